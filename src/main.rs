//! The `sim` binary: the command line with the built-in protocol families.

use std::process::ExitCode;

fn main() -> ExitCode {
    sim_cli::main(sim::program())
}
