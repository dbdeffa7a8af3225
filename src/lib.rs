//! The `sim` program: the built-in protocol families, handed to the command line by `main.rs`.
//!
//! Adding a family to `sim` is one line in [`families`] (and its crate in the workspace); a
//! user's own crate builds its own list the same way and calls `sim_cli::main` with it.

use sim_runner::Families;

/// The protocol families the `sim` binary offers, in the order `sim` lists them.
pub fn families() -> Families {
    Families::new()
        .with::<sim_raft::RaftSuite>()
        .with::<sim_fd::FdSuite>()
        .with::<sim_2pc::TxnSuite>()
        .with::<sim_lock::LockSuite>()
        .with::<sim_quorum::QuorumSuite>()
        .with::<sim_runner::bench::BeatSuite>()
}

/// The `sim` program: its name, version, commit and families.
pub fn program() -> sim_cli::Program {
    sim_cli::Program {
        name: "sim",
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("SIM_COMMIT"),
        families: families(),
    }
}
