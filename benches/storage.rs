fn main() { println!("storage benchmark: see BENCHMARKS.md"); }
