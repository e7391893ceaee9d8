//! What the benchmark examples share: running a PyTorch reference script of `scripts/` in
//! the same run, and naming the ndarray backend's matrix kernel.
//!
//! Each script prints one JSON object on stdout; a missing Python, package or asset becomes a
//! message that says what to install, and the benchmark prints its table without that column.

use std::process::Command;

/// The JSON that `python3 scripts/<script> <args>…` prints, or why there is none.
pub fn run(script: &str, args: &[String]) -> Result<serde_json::Value, String> {
    let output = Command::new("python3")
        .arg(format!("scripts/{script}"))
        .args(args)
        .output()
        .map_err(|e| format!("could not run python3 ({e})"))?;
    if !output.status.success() {
        return Err(format!(
            "scripts/{script} failed (install the packages its first lines name): {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("unreadable output: {e}"))
}

/// [`run`] with `settings` written to a temporary JSON file, the script's one argument.
#[allow(dead_code)] // not every benchmark passes its settings as a file
pub fn run_with_settings(
    script: &str,
    settings: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    let path = std::env::temp_dir().join(format!(
        "pela-{}-{}.json",
        script.trim_end_matches(".py"),
        std::process::id()
    ));
    std::fs::write(&path, settings.to_string()).map_err(|e| format!("{}: {e}", path.display()))?;
    let result = run(script, &[path.display().to_string()]);
    let _ = std::fs::remove_file(&path);
    result
}

/// The rank of every factorised layer of `report`, by layer path, as a JSON object: what
/// the reference scripts replace by the authors' factor pairs.
#[allow(dead_code)] // not every benchmark has a student
pub fn ranks_json(report: &pela::CompressionReport) -> serde_json::Value {
    report
        .layers
        .iter()
        .filter_map(|layer| {
            Some((
                layer.path.clone(),
                serde_json::json!(layer.decision.rank()?),
            ))
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// `burn-ndarray` with its matrix kernel, for a table's header; warns on stderr when OpenBLAS
/// runs its slow generic kernels.
#[allow(dead_code)] // not every benchmark runs ndarray
pub fn ndarray_name() -> String {
    if pela_zoo::backend::openblas_is_generic() {
        eprintln!(
            "warning: this OpenBLAS does not know this CPU and runs its generic kernels; set \
             OPENBLAS_CORETYPE=SkylakeX (AVX-512) or Haswell (AVX2) for its fast ones"
        );
    }
    format!("burn-ndarray ({})", pela_zoo::backend::ndarray_matmul())
}
