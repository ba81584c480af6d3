//! The one way a file reaches the disk durably, and private.
//!
//! Every file Coffer writes (sealed chunks, the key file, the unlockers file, bucket key
//! shares, a generated master key) is written whole to a temporary file created 0600,
//! fsynced, renamed over its final name, and then its directory is fsynced: a rename is
//! durable only once the directory holding it is. A crash therefore leaves the old file or
//! the new one, never a torn one, and never a file others can read. Directories are 0700.
//! Modes are set explicitly after creation, since the mode given at creation is filtered by
//! the umask.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Creates `path` (which must not exist) 0600.
pub(crate) fn create_private_file(path: &Path) -> std::io::Result<fs::File> {
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Writes `bytes` to `temp` (created 0600; a stale one is replaced), then renames it to
/// `path`. With `sync`, the data is fsynced before the rename and the directory after it.
/// On failure the temporary file is removed and `path` is untouched.
pub(crate) fn replace_file(
    temp: &Path,
    path: &Path,
    bytes: &[u8],
    sync: bool,
) -> std::io::Result<()> {
    replace_file_checked(temp, path, bytes, sync, |_| Ok(()))
}

/// One step of [`replace_file`], named so a fault plan can fail it (`faults.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Writing the temp file's bytes.
    Write,
    /// fsync of the temp file.
    SyncFile,
    /// The rename over the final name.
    Rename,
    /// fsync of the directory after the rename.
    SyncDir,
}

/// [`replace_file`] with `check` asked before each step; an error from it fails the step
/// as the disk would have (the fault-injecting layer under the chunk store).
pub(crate) fn replace_file_checked(
    temp: &Path,
    path: &Path,
    bytes: &[u8],
    sync: bool,
    check: impl Fn(Step) -> std::io::Result<()>,
) -> std::io::Result<()> {
    match fs::remove_file(temp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut file = create_private_file(temp)?;
    let mut guard = TempFile(Some(temp.to_path_buf()));
    check(Step::Write)?;
    file.write_all(bytes)?;
    if sync {
        check(Step::SyncFile)?;
        file.sync_data()?;
    }
    drop(file);
    rename_checked(temp, path, sync, &check)?;
    guard.0 = None;
    Ok(())
}

/// Renames a complete, already fsynced `temp` over `path`; with `sync`, fsyncs the
/// directory after, since the rename is durable only once it is. For files written by
/// other means than [`replace_file`] (a backup's index copy, written by redb).
pub(crate) fn rename_into_place(temp: &Path, path: &Path, sync: bool) -> std::io::Result<()> {
    rename_checked(temp, path, sync, &|_| Ok(()))
}

/// [`rename_into_place`] with `check` asked before the rename and the directory fsync.
fn rename_checked(
    temp: &Path,
    path: &Path,
    sync: bool,
    check: &impl Fn(Step) -> std::io::Result<()>,
) -> std::io::Result<()> {
    check(Step::Rename)?;
    fs::rename(temp, path)?;
    if sync && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        check(Step::SyncDir)?;
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Removes the temp file on any early return; emptied once the rename took it.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = fs::remove_file(path);
        }
    }
}

/// Creates one directory 0700 (exactly, whatever the umask) if it is missing; with `sync`,
/// fsyncs its parent so the new entry survives a crash. Returns whether it was created.
pub(crate) fn create_dir_private(path: &Path, sync: bool) -> Result<bool> {
    match fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => {
            fs::set_permissions(path, fs::Permissions::from_mode(0o700))
                .map_err(Error::io("chmod directory"))?;
            if sync && let Some(parent) = path.parent() {
                fsync_dir(parent)?;
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(source) => Err(Error::Io {
            action: "create directory",
            source,
        }),
    }
}

/// Makes every write to the file system holding `dir` durable at once (`syncfs`): the
/// files written without their own fsyncs, their contents and the renames that named them.
pub(crate) fn sync_file_system(dir: &Path) -> Result<()> {
    let dir = fs::File::open(dir).map_err(Error::io("open a directory to sync its file system"))?;
    rustix::fs::syncfs(&dir).map_err(|e| Error::Io {
        action: "flush the file system",
        source: e.into(),
    })
}

/// Fsyncs a directory, making renames and creations in it durable.
pub(crate) fn fsync_dir(path: &Path) -> Result<()> {
    fs::File::open(path)
        .and_then(|dir| dir.sync_all())
        .map_err(Error::io("fsync directory"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaced_files_are_private_whole_and_leave_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let (temp, path) = (dir.path().join("f.tmp"), dir.path().join("f"));
        std::fs::write(&temp, b"stale").unwrap();
        replace_file(&temp, &path, b"one", true).unwrap();
        replace_file(&temp, &path, b"two", false).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert!(!temp.exists());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // A failed rename (the target is a directory) leaves no temp file behind.
        let sub = dir.path().join("sub");
        std::fs::create_dir(sub.join("")).unwrap();
        std::fs::write(sub.join("x"), b"").unwrap();
        assert!(replace_file(&temp, &sub, b"three", false).is_err());
        assert!(!temp.exists());
    }

    #[test]
    fn private_directories() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("d");
        assert!(create_dir_private(&sub, true).unwrap());
        assert!(!create_dir_private(&sub, true).unwrap());
        let mode = std::fs::metadata(&sub).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
