use sim_check::bench::{generate, Workload};
use sim_check::{check, Budget};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ops: usize = args[1].parse().unwrap();
    let procs: usize = args[2].parse().unwrap();
    let info: f64 = args[3].parse().unwrap();
    let dur: u64 = args[4].parse().unwrap();
    for seed in 1..4 {
        let w = Workload { info_probability: info, duration_max: dur, ..Workload::register(ops, procs) };
        let h = generate(&w, seed);
        let t = std::time::Instant::now();
        let r = check(&h, &Budget { max_states: 5_000_000, timeout: None });
        println!("seed {seed}: {:?} states {} in {:?}", r.verdict, r.states_explored, t.elapsed());
    }
}
