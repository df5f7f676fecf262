//! `render` and `export`: the NIM Operator's objects for a NIMService, and
//! the bundle to deploy.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use crate::{errln, fail};

use crate::outdir;

#[derive(clap::Args)]
pub struct RenderCmd {
    /// A NIMService YAML file, optionally with existing NIMCache objects.
    pub file: PathBuf,
    /// UID to put in owner references (the API server assigns the real one).
    #[arg(long, default_value = nimscale_output::k8s::render::PLACEHOLDER_UID)]
    pub uid: String,
    /// Print `{"objects": [...], "notes": [...], "failure": ..., "waiting":
    /// ...}` as JSON instead of the YAML stream and messages (the exit
    /// status is the same).
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct ExportCmd {
    /// A NIMService file, or a file with `nimservice:` (and optionally
    /// `nimcaches:`, `modelCache:`, `adapter:`, `summary:`).
    pub file: PathBuf,
    /// Output directory, written in one step: it must not exist, be
    /// empty, or (with --force) be an earlier nimscale output.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an earlier nimscale output at --out (never anything else).
    #[arg(long)]
    pub force: bool,
    /// Print the bundle's files, warnings and lints as one JSON document
    /// instead of lines.
    #[arg(long)]
    pub json: bool,
}

pub fn run_render(file: PathBuf, uid: String, json: bool) -> anyhow::Result<ExitCode> {
    use nimscale_output::k8s::{admission, render, yaml};
    let name = file.display().to_string();
    let text = fail::read_input(&file)?;
    let admitted = match admission::admit(&text) {
        Ok(a) => a,
        Err(r) => {
            errln!("{}", r.detailed(&name));
            return Ok(ExitCode::from(2));
        }
    };
    for w in &admitted.warnings {
        errln!("Warning: {w}");
    }
    let unsupported = render::unsupported(&admitted.nimservice.spec);
    if !unsupported.is_empty() {
        for u in &unsupported {
            let pos = admitted
                .source
                .locate(&nimscale_output::k8s::node::FieldPath::parse(&u.field).0);
            errln!(
                "error: {name}:{pos}: {}: nimscale does not render this: {}",
                u.field,
                u.what
            );
        }
        return Ok(ExitCode::from(2));
    }
    let opts = render::RenderOptions {
        uid,
        ..Default::default()
    };
    let rendered = render::render(&admitted, &opts);
    if json {
        let doc = serde_json::json!({
            "objects": rendered.objects,
            "notes": rendered.notes,
            "failure": rendered.failure.as_ref().map(|f| serde_json::json!({"error": f.error, "explanation": f.explanation})),
            "waiting": rendered.waiting,
        });
        writeln!(std::io::stdout().lock(), "{doc}")?;
        let stopped = rendered.failure.is_some() || rendered.waiting.is_some();
        return Ok(if stopped {
            ExitCode::from(3)
        } else {
            ExitCode::SUCCESS
        });
    }
    let mut out = std::io::stdout().lock();
    write!(out, "{}", yaml::to_yaml_stream(&rendered.objects))?;
    out.flush()?;
    drop(out);
    for n in &rendered.notes {
        errln!("note: {n}");
    }
    if let Some(f) = &rendered.failure {
        errln!(
            "error: the NIM Operator admits this NIMService but fails to reconcile it; the objects above are those created before the failure."
        );
        errln!("operator error: {}", f.error);
        errln!("why: {}", f.explanation);
        return Ok(ExitCode::from(3));
    }
    if let Some(w) = &rendered.waiting {
        errln!("error: the NIM Operator stops before the Deployment: {w}");
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run_export(
    file: PathBuf,
    out: PathBuf,
    force: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use nimscale_output::k8s::bundle;
    let name = file.display().to_string();
    let text = fail::read_input(&file)?;
    let (admitted, req) = match bundle::read_export_input(&text) {
        Ok(x) => x,
        Err(r) => {
            errln!("{}", r.detailed(&name));
            return Ok(ExitCode::from(2));
        }
    };
    let b = match bundle::export(&admitted, &req) {
        Ok(b) => b,
        Err(e) => {
            errln!("error: {name}: {e}");
            return Ok(ExitCode::from(3));
        }
    };
    // The bundle is one directory, put in place in one step: its files
    // never disagree, and only an earlier bundle is replaced (--force).
    let files: Vec<(&str, &[u8])> = b
        .files
        .iter()
        .map(|f| (f.name.as_str(), f.content.as_bytes()))
        .collect();
    outdir::write_dir(&out, &files, force, "export")?;
    if json {
        let doc = serde_json::json!({
            "outDir": out.display().to_string(),
            "files": b.files.iter().map(|f| out.join(&f.name).display().to_string()).collect::<Vec<_>>(),
            "warnings": admitted.warnings,
            "lints": b.lints.iter().map(|l| serde_json::json!({"code": l.code, "field": l.field, "message": l.message})).collect::<Vec<_>>(),
        });
        writeln!(std::io::stdout().lock(), "{doc}")?;
        return Ok(ExitCode::SUCCESS);
    }
    for w in &admitted.warnings {
        errln!("Warning: {w}");
    }
    for l in &b.lints {
        errln!("lint {}: {}: {}", l.code, l.field, l.message);
    }
    let mut stdout = std::io::stdout().lock();
    for f in &b.files {
        writeln!(stdout, "{}", out.join(&f.name).display())?;
    }
    Ok(ExitCode::SUCCESS)
}
