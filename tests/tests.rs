//! Integration tests: the real `sim` binary, its output and its exit statuses.

mod check;
mod compare;
mod fuzz;
mod property;
mod raft_lab;
mod run;
mod support;
mod tidy;
mod verify;
