//! Benchmark placeholder created by the coordinator so the workspace manifest loads; the crate owner replaces it.

fn main() {}
