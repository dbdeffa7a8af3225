//! `sim bench`: throughput figures, measured in wall-clock time (the one place that may).

use clap::{Args, Subcommand};
use sim_core::SimDuration;

use crate::{parse_duration, Program, EXIT_OK};

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchWhat,
}

#[derive(Subcommand, Debug)]
pub enum BenchWhat {
    /// Events per second of the core on a many-node heartbeat workload, against a bare heap loop.
    Core {
        /// How many nodes heartbeat to each other.
        #[arg(long, default_value_t = 32)]
        nodes: usize,
        /// Simulated time to run.
        #[arg(long, value_parser = parse_duration, default_value = "10m")]
        simulated: SimDuration,
    },
    /// States per second of the linearizability checker on generated histories.
    Check {
        /// History sizes, in operations.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        ops: Vec<usize>,
    },
    /// The checker on histories shaped like Jepsen's etcd and Porcupine's kv tests (10 and 50
    /// clients, good and bad): time per history and states per second.
    Field {
        /// Histories per shape (seeds 0..N).
        #[arg(long, default_value_t = 10)]
        histories: u64,
    },
    /// Seeds per second of a fuzz campaign, by number of jobs (the results must not differ).
    Fuzz {
        /// The scenario to fuzz.
        #[arg(long, default_value = "scenarios/partition.toml")]
        scenario: std::path::PathBuf,
        /// Seeds 0..N.
        #[arg(long, default_value_t = 200)]
        seeds: u64,
        /// The job counts to compare.
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        jobs: Vec<usize>,
    },
    /// Time to read a scenario by its number of faults (it must grow linearly).
    Parse {
        /// Numbers of faults.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        faults: Vec<usize>,
    },
}

pub fn run(program: &Program, args: BenchArgs) -> u8 {
    match args.what {
        BenchWhat::Core { nodes, simulated } => {
            let nodes = nodes.clamp(2, sim_core::sim::NODES_MAX);
            print!("{}", sim_runner::bench::core(nodes, simulated, 1).render());
        }
        BenchWhat::Check { ops } => print!("{}", sim_check::bench::run(&ops, 1)),
        BenchWhat::Field { histories } => print!("{}", sim_check::field::run(histories)),
        BenchWhat::Fuzz {
            scenario,
            seeds,
            jobs,
        } => return crate::fuzz::bench(program, &scenario, seeds, &jobs),
        BenchWhat::Parse { faults } => {
            let (text, ok) = crate::bench_parse::run(&faults);
            print!("{text}");
            if !ok {
                return crate::EXIT_FAILED;
            }
        }
    }
    EXIT_OK
}
