//! `tickets-sim`: the whole `sim` command line for the ticket protocol, in one line of code.
//!
//! `cargo run -p tickets -- run examples/tickets/scenarios/partition.toml --seed 1`

use std::process::ExitCode;

fn main() -> ExitCode {
    sim_cli::main(tickets::program())
}
