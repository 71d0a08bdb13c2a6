//! Making a new file or a rename survive a crash: the directory entry is
//! synced as well as the file.

use std::fs::File;
use std::path::Path;

/// Syncs the directory holding `path`, where the platform allows; a
/// failure is ignored, since the data itself was synced already.
pub fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}
