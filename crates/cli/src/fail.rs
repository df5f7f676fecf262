//! Errors and exit codes, in one place.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (a closed stdout, as in `nimscale … \| head`, counts as success) |
//! | 1 | an internal failure or an I/O error writing output |
//! | 2 | invalid input: a file, flag or value the user gave (the message names it) |
//! | 3 | `render`/`export`: admitted, but the NIM Operator's reconcile fails or stops |
//! | 130 | interrupted (Ctrl-C); what finished was kept, as the message says |
//!
//! Commands return `anyhow::Result<ExitCode>`; an error carrying a
//! [`UserError`] anywhere in its chain exits 2, an [`Interrupted`] exits
//! 130, anything else 1. Nothing prints with `println!`/`eprintln!` (which
//! panic on a full or closed stream): stdout goes through `writeln!` on a
//! locked handle, stderr through [`warn`] and [`errln!`].

use std::fmt;
use std::io::Write;
use std::process::ExitCode;

/// The exit codes, as documented in `--help`.
pub const EXIT_CODES: &str = "Exit status: 0 success; 1 internal or output I/O error; 2 invalid input (a file, flag or value you gave; the message names file, line and field); 3 render/export: admitted, but the NIM Operator's reconcile fails or stops; 130 interrupted (Ctrl-C), keeping what finished.";

/// Something wrong in what the user gave: exit 2.
#[derive(Debug)]
pub struct UserError(pub String);

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UserError {}

/// A user error as an `anyhow::Error`.
pub fn user(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UserError(msg.into()))
}

/// The run was interrupted: exit 130.
#[derive(Debug)]
pub struct Interrupted(pub String);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}

/// The largest file nimscale reads (a scenario, a trace, a catalog...):
/// `/dev/zero` or a runaway file is refused instead of filling memory.
pub const MAX_INPUT_BYTES: u64 = 1 << 30;

/// Reads at most [`MAX_INPUT_BYTES`] of a file the user named.
pub fn read_bytes(path: &std::path::Path) -> Result<Vec<u8>, String> {
    read_at_most(path, MAX_INPUT_BYTES)
}

fn read_at_most(path: &std::path::Path, limit: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let f =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "{} is larger than {limit} bytes, the largest file nimscale reads",
            path.display()
        ));
    }
    Ok(bytes)
}

/// Reads a file the user named; failing to is a user error.
pub fn read_input(path: &std::path::Path) -> anyhow::Result<String> {
    let bytes = read_bytes(path).map_err(user)?;
    String::from_utf8(bytes).map_err(|e| {
        user(format!(
            "{}: not UTF-8 text (byte {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })
}

/// A line on stderr; a failing stderr is ignored (there is nowhere left
/// to say anything).
pub fn warn(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// `eprintln!` that never panics.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::fail::warn(&format!($($arg)*))
    };
}

/// The exit code for an error, printing it.
pub fn exit_code(e: &anyhow::Error) -> ExitCode {
    // A closed pipe (`nimscale … | head`) is not an error.
    if e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    }) {
        return ExitCode::SUCCESS;
    }
    if let Some(i) = e.chain().find_map(|c| c.downcast_ref::<Interrupted>()) {
        warn(&format!("interrupted: {i}"));
        return ExitCode::from(130);
    }
    warn(&format!("error: {e:#}"));
    if e.chain().any(|c| c.downcast_ref::<UserError>().is_some()) {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_read_up_to_a_limit() {
        // `simulate /dev/zero` read forever; now it stops at the limit.
        if std::path::Path::new("/dev/zero").exists() {
            let e = read_at_most(std::path::Path::new("/dev/zero"), 1000).expect_err("endless");
            assert!(e.contains("larger than 1000 bytes"), "{e}");
        }
        let p = std::env::temp_dir().join(format!("nimscale-read-{}", std::process::id()));
        std::fs::write(&p, "0123456789").expect("write");
        assert_eq!(read_at_most(&p, 10).map(|b| b.len()), Ok(10));
        assert!(read_at_most(&p, 9).is_err());
        let _ = std::fs::remove_file(&p);
    }
}
