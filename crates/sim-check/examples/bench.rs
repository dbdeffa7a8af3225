//! Runs the checker benchmark: `cargo run --release -p sim-check --example bench [SEED]`.

fn main() {
    let seed = std::env::args()
        .nth(1)
        .and_then(|text| text.parse().ok())
        .unwrap_or(1);
    print!("{}", sim_check::bench::run(&[1_000, 10_000, 100_000], seed));
}
