//! Writing outputs without ever losing the user's data.
//!
//! Every directory nimscale writes (`simulate`, `sweep`, `compare`, `merge`,
//! `report`, `export`) holds a marker file, [`MARKER`], naming the command
//! and version that wrote it. An output directory is written in a sibling
//! staging directory and put in place in one step:
//!
//! - a path that does not exist, or an empty directory, is taken;
//! - a directory holding the marker is replaced only with `--force`, by an
//!   exchange-rename (`renameat2(RENAME_EXCHANGE)` on Linux), so that at no
//!   instant is it missing or half old, half new; elsewhere by two renames,
//!   whose interruption the next run repairs;
//! - anything else (a regular file, a directory without the marker, a
//!   link) is refused, `--force` or not.
//!
//! Staging names are `.<leaf>.nimscale-tmp-<pid>` and
//! `.<leaf>.nimscale-old-<pid>`. A run killed at any point leaves at most
//! those; the next run on the same path removes them once their process is
//! gone and they hold the marker (restoring an `-old-` one when the output
//! itself is missing), and says so on stderr.
//!
//! Single files (`--metrics-out`) are written to a fresh temporary name
//! (created exclusively) and linked or renamed into place; an existing file
//! is replaced only with `--force` and only when it is a nimscale
//! OpenMetrics export (see [`is_our_openmetrics`]).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::fail::{self, user};

/// The marker file of every nimscale output directory.
pub const MARKER: &str = ".nimscale-run";

/// What an existing output path is.
#[derive(Debug, PartialEq, Eq)]
enum Existing {
    /// Nothing there.
    Absent,
    /// An empty directory.
    Empty,
    /// A directory with the marker: an earlier nimscale output, of the
    /// kind its marker names.
    Ours(String),
    /// Anything else, with a description.
    Foreign(String),
}

fn classify(dir: &Path) -> anyhow::Result<Existing> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Absent),
        Err(e) => return Err(user(format!("cannot inspect {}: {e}", dir.display()))),
    };
    if meta.file_type().is_symlink() {
        return Ok(Existing::Foreign("a symbolic link".into()));
    }
    if !meta.is_dir() {
        return Ok(Existing::Foreign("a file, not a directory".into()));
    }
    if fs::symlink_metadata(dir.join(MARKER)).is_ok_and(|m| m.is_file()) {
        let kind = fs::read_to_string(dir.join(MARKER))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["kind"].as_str().map(str::to_owned))
            .unwrap_or_default();
        return Ok(Existing::Ours(kind));
    }
    let mut entries =
        fs::read_dir(dir).map_err(|e| user(format!("cannot list {}: {e}", dir.display())))?;
    if entries.next().is_none() {
        Ok(Existing::Empty)
    } else {
        Ok(Existing::Foreign(format!(
            "a directory that nimscale did not write (no {MARKER} in it)"
        )))
    }
}

/// Outputs of one family replace each other: a sweep, its shards, a merge
/// and a compare write the same files; every other kind only its own.
fn family(kind: &str) -> &str {
    match kind {
        "sweep" | "sweep-shard" | "merge" | "compare" => "sweep",
        k => k,
    }
}

/// Refuses, before any work is done, an output path that cannot be written:
/// an earlier output without `force`, an output of another kind (a report
/// never replaces the run it reports on), or anything nimscale did not
/// write.
pub fn check(dir: &Path, force: bool, kind: &str) -> anyhow::Result<()> {
    recover_leftovers(dir);
    match classify(dir)? {
        Existing::Absent | Existing::Empty => Ok(()),
        Existing::Ours(k) if family(&k) != family(kind) => Err(other_kind(dir, &k, kind)),
        Existing::Ours(_) if force => Ok(()),
        Existing::Ours(_) => Err(user(format!(
            "{} exists (an earlier nimscale output); use another --out or --force to replace it",
            dir.display()
        ))),
        Existing::Foreign(what) => Err(user(format!(
            "{} is {what}; nimscale replaces only its own outputs, --force or not: choose another --out",
            dir.display()
        ))),
    }
}

fn other_kind(dir: &Path, found: &str, kind: &str) -> anyhow::Error {
    user(format!(
        "{} holds a nimscale {} output; --force replaces only an earlier {kind} output: choose another --out",
        dir.display(),
        if found.is_empty() {
            "(unknown kind)"
        } else {
            found
        }
    ))
}

fn parent_and_leaf(dir: &Path) -> anyhow::Result<(PathBuf, String)> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let leaf = dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .ok_or_else(|| {
            user(format!(
                "{}: an output path must end in a directory name",
                dir.display()
            ))
        })?;
    Ok((parent, leaf))
}

fn staging_name(leaf: &str, what: &str) -> String {
    format!(".{leaf}.nimscale-{what}-{}", std::process::id())
}

/// Whether the process `pid` still runs (Linux: `/proc`; elsewhere assumed
/// gone only when it is this process's own id, i.e. never).
fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Repairs what an interrupted run left beside `dir` (see the module
/// documentation); reports each step on stderr.
fn recover_leftovers(dir: &Path) {
    let Ok((parent, leaf)) = parent_and_leaf(dir) else {
        return;
    };
    let Ok(entries) = fs::read_dir(&parent) else {
        return;
    };
    let prefix = format!(".{leaf}.nimscale-");
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let Some((what, pid)) = rest.split_once('-') else {
            continue;
        };
        let (Ok(pid), true) = (pid.parse::<u32>(), what == "tmp" || what == "old") else {
            continue;
        };
        let path = e.path();
        if alive(pid) {
            continue;
        }
        // A `--metrics-out` file's temporary copy starts with our family.
        if what == "tmp"
            && fs::symlink_metadata(&path).is_ok_and(|m| m.is_file())
            && is_our_openmetrics(&path)
        {
            match fs::remove_file(&path) {
                Ok(()) => fail::warn(&format!(
                    "removed {}, left by an interrupted run",
                    path.display()
                )),
                Err(err) => fail::warn(&format!("cannot remove {}: {err}", path.display())),
            }
            continue;
        }
        if !fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) || !path.join(MARKER).is_file() {
            fail::warn(&format!(
                "{} looks like an interrupted nimscale run's leftover but holds no {MARKER}; left alone",
                path.display()
            ));
            continue;
        }
        if what == "old" && matches!(classify(dir), Ok(Existing::Absent)) {
            match fs::rename(&path, dir) {
                Ok(()) => fail::warn(&format!(
                    "restored {} from {}, left by an interrupted run",
                    dir.display(),
                    path.display()
                )),
                Err(err) => fail::warn(&format!(
                    "cannot restore {} from {}: {err}",
                    dir.display(),
                    path.display()
                )),
            }
            continue;
        }
        match fs::remove_dir_all(&path) {
            Ok(()) => fail::warn(&format!(
                "removed {}, left by an interrupted run",
                path.display()
            )),
            Err(err) => fail::warn(&format!("cannot remove {}: {err}", path.display())),
        }
    }
}

/// The marker's content: the command line and the version.
pub fn marker_text(kind: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    serde_json::to_string_pretty(&serde_json::json!({
        "nimscale": env!("CARGO_PKG_VERSION"),
        "kind": kind,
        "command": args,
    }))
    .unwrap_or_default()
        + "\n"
}

/// A staging directory beside the output, removed on drop unless
/// committed.
pub struct Staging {
    dir: PathBuf,
    tmp: PathBuf,
    force: bool,
    kind: String,
    committed: bool,
}

impl Staging {
    /// Checks `dir` (as [`check`]) and creates its staging directory with
    /// the marker of `kind` in it.
    pub fn create(dir: &Path, force: bool, kind: &str) -> anyhow::Result<Self> {
        check(dir, force, kind)?;
        let (parent, leaf) = parent_and_leaf(dir)?;
        fs::create_dir_all(&parent)
            .map_err(|e| user(format!("cannot create {}: {e}", parent.display())))?;
        let tmp = parent.join(staging_name(&leaf, "tmp"));
        // Exclusive: a path already there (ours from this very process, or
        // anybody's) is never reused or removed.
        fs::create_dir(&tmp).map_err(|e| user(format!("cannot create {}: {e}", tmp.display())))?;
        let s = Staging {
            dir: dir.to_path_buf(),
            tmp,
            force,
            kind: kind.to_owned(),
            committed: false,
        };
        s.write(MARKER, marker_text(kind).as_bytes())?;
        Ok(s)
    }

    /// Where files go before the commit.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// Writes one file into the staging directory.
    pub fn write(&self, name: &str, content: &[u8]) -> anyhow::Result<()> {
        let p = self.tmp.join(name);
        let mut f = fs::File::create_new(&p)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", p.display()))?;
        f.write_all(content)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", p.display()))?;
        Ok(())
    }

    /// Puts the staging directory in place of the output in one step.
    pub fn commit(mut self) -> anyhow::Result<()> {
        match classify(&self.dir)? {
            Existing::Absent | Existing::Empty => {
                fs::rename(&self.tmp, &self.dir).map_err(|e| {
                    user(format!(
                        "cannot put the output in place at {}: {e}",
                        self.dir.display()
                    ))
                })?;
            }
            Existing::Ours(k) if family(&k) != family(&self.kind) => {
                return Err(other_kind(&self.dir, &k, &self.kind));
            }
            Existing::Ours(_) if self.force => self.replace()?,
            Existing::Ours(_) => {
                return Err(user(format!(
                    "{} appeared during the run (an earlier nimscale output); use --force to replace it",
                    self.dir.display()
                )));
            }
            Existing::Foreign(what) => {
                return Err(user(format!(
                    "{} is now {what}; nothing was replaced",
                    self.dir.display()
                )));
            }
        }
        self.committed = true;
        Ok(())
    }

    #[cfg(target_os = "linux")]
    fn replace(&self) -> anyhow::Result<()> {
        use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
        let swap = || {
            renameat2(
                AT_FDCWD,
                &self.tmp,
                AT_FDCWD,
                &self.dir,
                RenameFlags::RENAME_EXCHANGE,
            )
        };
        match swap() {
            Ok(()) => {}
            // A file system without the exchange (some network ones).
            Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOSYS) => {
                return self.replace_by_two_renames();
            }
            Err(e) => anyhow::bail!("replacing {}: {e}", self.dir.display()),
        }
        // The staging path now holds what was at the output path; check it
        // is still the earlier output before removing it.
        if !self.tmp.join(MARKER).is_file() {
            let _ = swap();
            return Err(user(format!(
                "{} changed during the run and is no longer a nimscale output; nothing was replaced",
                self.dir.display()
            )));
        }
        fs::remove_dir_all(&self.tmp)
            .map_err(|e| anyhow::anyhow!("removing the earlier output {}: {e}", self.tmp.display()))
    }

    #[cfg(not(target_os = "linux"))]
    fn replace(&self) -> anyhow::Result<()> {
        self.replace_by_two_renames()
    }

    /// Without an exchange: the earlier output is moved aside, the new one
    /// put in place, the earlier one removed. A kill between the renames
    /// leaves the `-old-` directory, which the next run restores.
    fn replace_by_two_renames(&self) -> anyhow::Result<()> {
        let (parent, leaf) = parent_and_leaf(&self.dir)?;
        let old = parent.join(staging_name(&leaf, "old"));
        fs::rename(&self.dir, &old)
            .map_err(|e| anyhow::anyhow!("moving {} aside: {e}", self.dir.display()))?;
        if let Err(e) = fs::rename(&self.tmp, &self.dir) {
            let _ = fs::rename(&old, &self.dir);
            anyhow::bail!("writing {}: {e}", self.dir.display());
        }
        fs::remove_dir_all(&old)
            .map_err(|e| anyhow::anyhow!("removing the earlier output {}: {e}", old.display()))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Writes `files` into `dir` as one step (see the module documentation).
pub fn write_dir<N: AsRef<str>, C: AsRef<[u8]>>(
    dir: &Path,
    files: &[(N, C)],
    force: bool,
    kind: &str,
) -> anyhow::Result<()> {
    let s = Staging::create(dir, force, kind)?;
    for (name, content) in files {
        s.write(name.as_ref(), content.as_ref())?;
    }
    s.commit()
}

/// The first line of every OpenMetrics file nimscale writes; what
/// `--metrics-out --force` recognises.
pub const OPENMETRICS_FIRST_LINE: &str = "# HELP nimscale_run_info";

/// A single file nimscale writes and may later replace: how its first
/// line starts, and what it is called in messages.
#[derive(Clone, Copy, Debug)]
pub struct OwnFile {
    /// The first line's start (nothing else is ever replaced).
    pub first_line: &'static str,
    /// What the file is, for messages (`an earlier --metrics-out`).
    pub what: &'static str,
    /// What a file nimscale did not write is not (`a nimscale OpenMetrics
    /// export`).
    pub kind: &'static str,
}

/// `simulate --metrics-out`.
pub const OPENMETRICS: OwnFile = OwnFile {
    first_line: OPENMETRICS_FIRST_LINE,
    what: "an earlier --metrics-out",
    kind: "a nimscale OpenMetrics export",
};

/// `calibrate --out`.
pub const CALIBRATED_CATALOG: OwnFile = OwnFile {
    first_line: "# Calibrated by nimscale",
    what: "an earlier calibrate --out",
    kind: "a catalog nimscale calibrate wrote",
};

/// Whether `path` starts as nimscale writes `own`.
fn is_ours(path: &Path, own: OwnFile) -> bool {
    use std::io::Read;
    let Ok(mut f) = fs::File::open(path) else {
        return false;
    };
    let mut head = vec![0u8; own.first_line.len()];
    f.read_exact(&mut head).is_ok() && head == own.first_line.as_bytes()
}

/// Whether `path` is a file nimscale's `--metrics-out` wrote.
pub fn is_our_openmetrics(path: &Path) -> bool {
    is_ours(path, OPENMETRICS)
}

/// Refuses, before any work, an output file path that cannot be written:
/// anything there but an earlier such file of nimscale's (and that only
/// with `force`).
pub fn check_file(path: &Path, force: bool, own: OwnFile) -> anyhow::Result<()> {
    recover_leftovers(path);
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(user(format!("cannot inspect {}: {e}", path.display()))),
        Ok(m) if m.is_file() && is_ours(path, own) => {
            if force {
                Ok(())
            } else {
                Err(user(format!(
                    "{} exists ({}); use --force to replace it",
                    path.display(),
                    own.what
                )))
            }
        }
        Ok(_) => Err(user(format!(
            "{} exists and is not {}; nimscale replaces only its own files, --force or not",
            path.display(),
            own.kind
        ))),
    }
}

/// Writes one file: a fresh temporary name beside it, then linked into
/// place (never over anything) or, with `force` over an earlier such file,
/// renamed over it.
pub fn write_file(path: &Path, content: &[u8], force: bool, own: OwnFile) -> anyhow::Result<()> {
    check_file(path, force, own)?;
    let (parent, leaf) = parent_and_leaf(path)?;
    let tmp = parent.join(staging_name(&leaf, "tmp"));
    let mut f = fs::File::create_new(&tmp)
        .map_err(|e| user(format!("cannot create {}: {e}", tmp.display())))?;
    let written = f.write_all(content).and_then(|()| f.sync_all());
    drop(f);
    let placed = written.map_err(anyhow::Error::from).and_then(|()| {
        if path.exists() {
            check_file(path, force, own)?;
            fs::rename(&tmp, path).map_err(anyhow::Error::from)
        } else {
            // A hard link never replaces an existing name.
            fs::hard_link(&tmp, path).map_err(anyhow::Error::from)
        }
    });
    let _ = fs::remove_file(&tmp);
    placed.map_err(|e| anyhow::anyhow!("writing {}: {e:#}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("nimscale-outdir-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("scratch");
        d
    }

    #[test]
    fn classifies_what_is_there() {
        let d = scratch("classify");
        assert_eq!(classify(&d.join("none")).ok(), Some(Existing::Absent));
        fs::create_dir(d.join("empty")).expect("mkdir");
        assert_eq!(classify(&d.join("empty")).ok(), Some(Existing::Empty));
        fs::create_dir(d.join("user")).expect("mkdir");
        fs::write(d.join("user/notes.txt"), "mine").expect("write");
        assert!(matches!(
            classify(&d.join("user")).ok(),
            Some(Existing::Foreign(_))
        ));
        fs::write(d.join("file"), "x").expect("write");
        assert!(matches!(
            classify(&d.join("file")).ok(),
            Some(Existing::Foreign(_))
        ));
        write_dir(&d.join("run"), &[("a.txt", "1")], false, "test").expect("first");
        assert_eq!(
            classify(&d.join("run")).ok(),
            Some(Existing::Ours("test".into()))
        );
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn replaces_only_its_own_output_with_force() {
        let d = scratch("replace");
        let run = d.join("run");
        write_dir(&run, &[("a.txt", "1")], false, "test").expect("first");
        assert!(write_dir(&run, &[("a.txt", "2")], false, "test").is_err());
        write_dir(&run, &[("b.txt", "2")], true, "test").expect("forced");
        assert!(!run.join("a.txt").exists(), "old files are gone");
        assert_eq!(
            fs::read_to_string(run.join("b.txt")).ok().as_deref(),
            Some("2")
        );
        let user_dir = d.join("mine");
        fs::create_dir(&user_dir).expect("mkdir");
        fs::write(user_dir.join("keep.txt"), "precious").expect("write");
        let e = write_dir(&user_dir, &[("a.txt", "1")], true, "test").expect_err("refused");
        assert!(format!("{e:#}").contains("did not write"), "{e:#}");
        assert_eq!(
            fs::read_to_string(user_dir.join("keep.txt"))
                .ok()
                .as_deref(),
            Some("precious")
        );
        // No staging directory is left behind.
        let left: Vec<_> = fs::read_dir(&d)
            .expect("ls")
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n.to_string_lossy().contains("nimscale-"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn force_replaces_only_an_output_of_the_same_kind() {
        let d = scratch("kinds");
        let run = d.join("run");
        write_dir(&run, &[("summary.json", "{}")], false, "simulate").expect("run");
        // A report aimed at the run it reports on must not replace it.
        let e = write_dir(&run, &[("report.html", "x")], true, "report").expect_err("kind");
        assert!(
            format!("{e:#}").contains("holds a nimscale simulate output"),
            "{e:#}"
        );
        assert!(run.join("summary.json").is_file());
        // A merge may replace a sweep.
        let sw = d.join("sweep");
        write_dir(&sw, &[("results.csv", "a")], false, "sweep").expect("sweep");
        write_dir(&sw, &[("results.csv", "b")], true, "merge").expect("merge");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn leftovers_of_dead_runs_are_repaired() {
        let d = scratch("leftover");
        let run = d.join("run");
        // A dead run's moved-aside output with the output itself missing
        // (killed between two renames) is restored...
        let old = d.join(".run.nimscale-old-999999999");
        fs::create_dir(&old).expect("mkdir");
        fs::write(old.join(MARKER), "{}").expect("marker");
        fs::write(old.join("a.txt"), "kept").expect("write");
        // ...its staging directory removed...
        let tmp = d.join(".run.nimscale-tmp-999999998");
        fs::create_dir(&tmp).expect("mkdir");
        fs::write(tmp.join(MARKER), "{}").expect("marker");
        // ...and a look-alike without the marker left alone.
        let alike = d.join(".run.nimscale-tmp-999999997");
        fs::create_dir(&alike).expect("mkdir");
        check(&run, false, "test").expect_err("the restored run exists");
        assert_eq!(
            fs::read_to_string(run.join("a.txt")).ok().as_deref(),
            Some("kept")
        );
        assert!(!tmp.exists() && !old.exists());
        assert!(alike.exists());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn single_files_never_consume_unrelated_ones() {
        let d = scratch("file");
        let f = d.join("run.om");
        fs::write(&f, "my notes\n").expect("write");
        assert!(
            write_file(
                &f,
                b"# HELP nimscale_run_info x\n# EOF\n",
                true,
                OPENMETRICS
            )
            .is_err()
        );
        assert_eq!(fs::read_to_string(&f).ok().as_deref(), Some("my notes\n"));
        let g = d.join("new.om");
        let text = format!("{OPENMETRICS_FIRST_LINE} run\n# EOF\n");
        write_file(&g, text.as_bytes(), false, OPENMETRICS).expect("new");
        assert!(write_file(&g, text.as_bytes(), false, OPENMETRICS).is_err());
        write_file(&g, text.as_bytes(), true, OPENMETRICS).expect("replace our own");
        let names: Vec<_> = fs::read_dir(&d)
            .expect("ls")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        // A killed write's temporary copy is removed by the next write.
        let left = d.join(".new.om.nimscale-tmp-999999999");
        fs::write(&left, text.as_bytes()).expect("leftover");
        write_file(&g, text.as_bytes(), true, OPENMETRICS).expect("again");
        assert!(!left.exists());
        let _ = fs::remove_dir_all(&d);
    }
}
