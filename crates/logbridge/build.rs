//! Links the `logbridge` executable at a fixed address (not as a
//! position-independent executable).
//!
//! Why: a PIE has every pointer in its read-only data (vtables, string
//! tables, dispatch tables) patched by the dynamic loader at start, which
//! writes, and so keeps resident, all of `.data.rel.ro` and reads all of
//! `.rela.dyn`: about 5 MiB of RSS that a fixed-address executable never
//! touches. Code stays position-independent; only the final link changes.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
