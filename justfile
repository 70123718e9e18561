# Mirrors .ci/run step by step; `just` is optional (`cargo install just`), .ci/run is the truth.

default:
    @just --list --unsorted

# cargo fmt check
fmt:
    cargo fmt --all --check

# clippy on every target, warnings are errors
lint:
    cargo clippy --workspace --all-targets --locked -- -D warnings

# the real upstream tier (kube-apiserver, etcd, CAPI managers) from upstream/'s Go modules, cached
upstream:
    upstream/build

# the test suite (the README's test command) and doc tests
test:
    cargo nextest run --workspace --locked --no-fail-fast
    cargo test --workspace --doc --locked

# rustdoc without warnings
doc:
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

# each member builds on its own (feature unification cannot hide a missing feature)
check-crates:
    for m in crates/*/Cargo.toml bins/*/Cargo.toml; do cargo check --locked --quiet --manifest-path "$m"; done

# rewrite every golden file from the current code, then review the diff
golden:
    UPDATE_GOLDEN=1 cargo nextest run --workspace --locked
    git diff --stat -- '*golden*'

# licences, bans and sources (advisories need network access to the advisory DB)
deny:
    cargo deny check bans licenses sources

# the whole CI job
ci:
    bash .ci/run

# run the Equinix Metal simulator on a fixed port
sim:
    cargo run --release --locked -p capp-sim-bin -- --listen 127.0.0.1:8080
