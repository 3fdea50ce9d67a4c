//! Saving a received file where the person wants it: under a name made
//! safe (no folders, no invisible or reserved names), never over another
//! file unasked, and never half written.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// A name to save a received file under: no folders, no characters a file
/// system refuses or a person cannot see (controls, direction overrides),
/// not hidden, not a name Windows reserves, at most 200 bytes (the
/// extension kept), never empty.
pub fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let kept: String = base
        .chars()
        .filter(|c| !c.is_control() && !is_format_char(*c) && !r#"<>:"|?*"#.contains(*c))
        .collect();
    let mut s = kept
        .trim_matches(|c: char| c == '.' || c.is_whitespace())
        .to_owned();
    if s.is_empty() {
        s = "file".into();
    }
    let stem = s.split('.').next().unwrap_or_default().trim_end();
    if is_reserved(stem) {
        s.insert(0, '_');
    }
    const MAX_BYTES: usize = 200;
    if s.len() > MAX_BYTES {
        let ext = s
            .rfind('.')
            .map(|i| s[i..].to_owned())
            .filter(|e| e.len() <= 20)
            .unwrap_or_default();
        let mut cut = MAX_BYTES - ext.len();
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s = format!("{}{ext}", s[..cut].trim_end());
    }
    s
}

/// Characters that change how text around them is shown without showing
/// themselves (a right-to-left override makes `exe.txt` look like `txt.exe`).
pub(super) fn is_format_char(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Names Windows keeps for devices, whatever the extension.
fn is_reserved(stem: &str) -> bool {
    let upper = stem.to_ascii_uppercase();
    if matches!(
        upper.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
    ) {
        return true;
    }
    let mut chars = upper.chars();
    let head: String = chars.by_ref().take(3).collect();
    let tail: Vec<char> = chars.collect();
    (head == "COM" || head == "LPT")
        && matches!(tail.as_slice(), [c] if c.is_ascii_digit() || "¹²³".contains(*c))
}

/// Why saving a received file did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaveError {
    /// A file of that name is there; ask before replacing it.
    #[error("{} already exists", .0.display())]
    Exists(PathBuf),
    #[error("{0}")]
    Failed(String),
}

/// Copies the received file `from` into `folder` as [`safe_file_name`]`(name)`
/// (through a hidden temporary file, so a full disk leaves nothing half
/// written); an existing file is replaced only when `replace`. The saved
/// file's path.
pub fn save_received(
    from: &Path,
    folder: &Path,
    name: &str,
    replace: bool,
) -> Result<PathBuf, SaveError> {
    let target = folder.join(safe_file_name(name));
    if !replace && std::fs::symlink_metadata(&target).is_ok() {
        return Err(SaveError::Exists(target));
    }
    if !folder.is_dir() {
        return Err(SaveError::Failed(format!(
            "{} is not a folder",
            folder.display()
        )));
    }
    let temp = folder.join(format!(".{}.tandem-part", temp_id()));
    let failed = |e: std::io::Error| {
        SaveError::Failed(format!(
            "it could not be saved in {}: {}",
            folder.display(),
            io_words(&e)
        ))
    };
    let copied = std::fs::copy(from, &temp)
        .and_then(|_| std::fs::File::open(&temp)?.sync_all())
        .and_then(|()| std::fs::rename(&temp, &target));
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&temp);
        return Err(failed(e));
    }
    Ok(target)
}

/// `safe_file_name(name)` in `folder`, numbered (`name (2).ext`) past any
/// file already there.
pub fn free_name(folder: &Path, name: &str) -> String {
    let safe = safe_file_name(name);
    if std::fs::symlink_metadata(folder.join(&safe)).is_err() {
        return safe;
    }
    let (stem, ext) = match safe.rfind('.') {
        Some(i) if i > 0 => (&safe[..i], &safe[i..]),
        _ => (safe.as_str(), ""),
    };
    (2..)
        .map(|n| format!("{stem} ({n}){ext}"))
        .find(|c| std::fs::symlink_metadata(folder.join(c)).is_err())
        .unwrap_or(safe.clone())
}

/// An I/O error in words (a full disk and a refused folder said plainly).
pub(super) fn io_words(e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::StorageFull => "the disk is full".into(),
        ErrorKind::PermissionDenied => "permission denied".into(),
        ErrorKind::ReadOnlyFilesystem => "the disk is read-only".into(),
        ErrorKind::NotFound => "it is not there".into(),
        _ => e.to_string(),
    }
}

/// A name for a temporary file no other save uses at the same time.
fn temp_id() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes.copy_from_slice(&nanos.to_le_bytes()[..8]);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_become_safe_ones() {
        assert_eq!(safe_file_name("../../.bashrc"), "bashrc");
        assert_eq!(safe_file_name("..\\..\\Windows\\system.ini"), "system.ini");
        assert_eq!(safe_file_name("CON"), "_CON");
        assert_eq!(safe_file_name("con.txt"), "_con.txt");
        assert_eq!(safe_file_name("LPT1.tar.gz"), "_LPT1.tar.gz");
        assert_eq!(safe_file_name("COM10.txt"), "COM10.txt");
        assert_eq!(safe_file_name("report\u{202E}fdp.exe"), "reportfdp.exe");
        assert_eq!(safe_file_name("a\u{0}b\nc\t.txt"), "abc.txt");
        assert_eq!(safe_file_name("what?<is>:this*|\".txt"), "whatisthis.txt");
        assert_eq!(safe_file_name(" . .. "), "file");
        assert_eq!(safe_file_name(""), "file");
        assert_eq!(safe_file_name("dir/"), "file");
        assert_eq!(safe_file_name("notes. "), "notes");
        let long = format!("{}.pdf", "é".repeat(4000));
        let safe = safe_file_name(&long);
        assert!(safe.len() <= 200, "{}", safe.len());
        assert!(safe.ends_with("é.pdf"), "{safe}");
        assert_eq!(
            safe_file_name("Plan für Maria – week 3.pdf"),
            "Plan für Maria – week 3.pdf"
        );
    }

    #[test]
    fn saving_never_overwrites_unasked_and_leaves_nothing_partial() {
        let dir = std::env::temp_dir().join(format!("tandem-save-{}", temp_id()));
        let into = dir.join("into");
        std::fs::create_dir_all(&into).unwrap();
        let from = dir.join("received");
        std::fs::write(&from, b"first").unwrap();
        let saved = save_received(&from, &into, "../plan.txt", false).unwrap();
        assert_eq!(saved, into.join("plan.txt"));
        assert_eq!(std::fs::read(&saved).unwrap(), b"first");
        std::fs::write(&from, b"second").unwrap();
        assert_eq!(
            save_received(&from, &into, "plan.txt", false),
            Err(SaveError::Exists(into.join("plan.txt")))
        );
        assert_eq!(std::fs::read(&saved).unwrap(), b"first");
        assert_eq!(free_name(&into, "plan.txt"), "plan (2).txt");
        save_received(&from, &into, "plan.txt", true).unwrap();
        assert_eq!(std::fs::read(&saved).unwrap(), b"second");
        let missing = save_received(&dir.join("gone"), &into, "x.txt", false);
        assert!(matches!(missing, Err(SaveError::Failed(_))), "{missing:?}");
        let names: Vec<_> = std::fs::read_dir(&into)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["plan.txt"], "no temporary file is left");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
