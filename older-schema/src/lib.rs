//! Models generated from an older document (see `build.rs`), for the tests
//! in `tests/`: not published, not part of the SDK.

/// The models of the older document.
#[allow(missing_docs, clippy::all, clippy::pedantic, dead_code)]
pub mod types {
    include!(concat!(env!("OUT_DIR"), "/older_models.rs"));
}
