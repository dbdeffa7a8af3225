//! Integration tests: the real `sim` binary, its output and its exit statuses.

mod check;
mod compare;
mod field_errors;
mod fuzz;
mod hardening;
mod property;
mod raft_lab;
mod report;
mod run;
mod support;
mod swarm_load;
mod tidy;
mod verify;
