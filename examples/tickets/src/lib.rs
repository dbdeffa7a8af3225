//! A worked example of a user's own protocol family under `sim`: a ticket sequencer.
//!
//! One `sequencer` node hands out tickets (1, 2, 3, ...) to clients; before it grants ticket
//! `t`, it stores `t` on a majority of `replica` nodes, so that a sequencer that crashes and
//! restarts can recover where it left off by asking a majority of replicas for the highest
//! ticket they stored (any granted ticket is on a majority, and two majorities meet). The one
//! safety property is that no ticket is ever granted twice.
//!
//! The crate shows the whole path a user takes:
//! - [`node`]: the sans-IO processes, one per kind of node (`sequencer`, `replica`);
//! - [`family`]: what the family declares to the tool (kinds, roles, events, checks, bugs) and
//!   how it builds each node by its kind;
//! - [`workload`]: closed-loop clients asking for tickets;
//! - [`checks`]: `tickets.unique` (always) and `tickets.granted` (sometimes);
//! - [`bugs`]: `grant_before_store`, a realistic mistake behind a switch;
//! - `main.rs`: the `tickets-sim` binary, the whole `sim` command line for this family;
//! - `scenarios/` and `scenarios/bugs/`: scenario files, each stating what it expects.

pub mod bugs;
pub mod checks;
pub mod family;
pub mod node;
pub mod workload;

pub use family::TicketSuite;

/// The families this program offers: just the one.
pub fn families() -> sim_runner::Families {
    sim_runner::Families::new().with::<TicketSuite>()
}

/// The `tickets-sim` program.
pub fn program() -> sim_cli::Program {
    sim_cli::Program {
        name: "tickets-sim",
        version: env!("CARGO_PKG_VERSION"),
        commit: "unknown",
        families: families(),
    }
}
