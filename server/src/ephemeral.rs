//! The throwaway data directory of `coffer serve --ephemeral`.

use std::io;

use tempfile::TempDir;

/// Creates `coffer-ephemeral-*` under the system temporary directory (`TMPDIR` is honoured),
/// mode 0700. It is removed when the returned guard is closed or dropped.
pub(crate) fn create_dir() -> io::Result<TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("coffer-ephemeral-");
    // P6: directories 0700 (tempfile's default follows the umask).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    builder.tempdir_in(std::env::temp_dir())
}

/// Removes the directory, logging (not failing) if that goes wrong.
pub(crate) fn remove_dir(dir: TempDir) {
    let path = dir.path().to_path_buf();
    if let Err(error) = dir.close() {
        tracing::warn!(%error, path = %path.display(), "could not remove the ephemeral data directory");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_private_and_removed() {
        let dir = create_dir().unwrap();
        let path = dir.path().to_path_buf();
        assert!(
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("coffer-ephemeral-")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "mode {mode:o}");
        }
        std::fs::write(path.join("f"), b"x").unwrap();
        remove_dir(dir);
        assert!(!path.exists());
    }
}
