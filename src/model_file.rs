//! The trained pyramid and its file: one safetensors file whose weights are named
//! `stage{i}.{variable}` and whose metadata (`"sintra"`, JSON) holds everything else needed to
//! generate and write MIDI: config, preset, dictionary, vocabularies and the clip.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use crate::clip::{check_bars, Clip};
use crate::error::FileError;
use crate::model::inference::{CpuStage, PlainKeys};
use crate::model::{build_stage, Config, Preset, StageModel};
use crate::pitch_group::{pitches, Dictionary, Group};
use crate::pyramid::Resolution;

/// Format tag and version in the metadata: version 2 added re-strikes to the dictionary;
/// version 1 files (none) still load.
const FORMAT: &str = "sintra-model";
const VERSION: u32 = 2;

/// Everything in a model file besides the weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    /// Always "sintra-model".
    pub format: String,
    /// File format version.
    pub version: u32,
    /// The preset the sizes came from.
    pub preset: Preset,
    /// Sizes of every stage.
    pub config: Config,
    /// Stage resolutions, coarse to fine.
    pub resolutions: Vec<Resolution>,
    /// The dictionary: pitches of each token's group.
    pub groups: Vec<Vec<u8>>,
    /// Per token, the pitches of its group struck again while sounding (absent in version 1).
    #[serde(default)]
    pub restruck: Vec<Vec<u8>>,
    /// Per stage, per track: the tokens that track may produce.
    pub allowed: Vec<Vec<Vec<u32>>>,
    /// The clip the model learned (after bar selection).
    pub clip: Clip,
    /// Its length in bars.
    pub bars: u32,
    /// Training seed.
    pub seed: u64,
}

impl ModelMeta {
    pub fn new(
        preset: Preset,
        config: Config,
        clip: Clip,
        bars: u32,
        dict: &Dictionary,
        stages: &[Stage],
        seed: u64,
    ) -> Self {
        Self {
            format: FORMAT.into(),
            version: VERSION,
            preset,
            config,
            resolutions: stages.iter().map(|s| s.resolution).collect(),
            groups: dict.groups.iter().map(|&g| pitches(g).collect()).collect(),
            restruck: dict.restruck.iter().map(|&g| pitches(g).collect()).collect(),
            allowed: stages.iter().map(|s| s.allowed.clone()).collect(),
            clip,
            bars,
            seed,
        }
    }

    /// The dictionary as a lookup.
    pub fn dictionary(&self) -> Dictionary {
        let group = |p: &Vec<u8>| p.iter().fold(0 as Group, |g, &p| g | (1 << (p & 127)));
        Dictionary::from_groups(
            self.groups.iter().map(group).collect(),
            self.restruck.iter().map(group).collect(),
        )
    }

    /// What generated bars are decoded with: the model's dictionary, then every sounding
    /// group struck again whole where the model has no token for that (the generator's
    /// articulation writes these; the model never reads them).
    pub fn output_dictionary(&self) -> Dictionary {
        self.dictionary().with_restrikes()
    }
}

/// One trained stage.
pub struct Stage {
    /// Its resolution.
    pub resolution: Resolution,
    /// Grid steps per token: the resolution on the clip's grid.
    pub stride: usize,
    /// Per track, the tokens it may produce.
    pub allowed: Vec<Vec<u32>>,
    /// Its variables.
    pub varmap: VarMap,
    /// Its network, reading `varmap`.
    pub model: StageModel,
}

/// A trained pyramid on a device.
pub struct SintraModel {
    /// Config, dictionary, clip.
    pub meta: ModelMeta,
    /// Stages, coarse to fine.
    pub stages: Vec<Stage>,
    /// Where the weights live.
    pub device: Device,
    /// On the CPU, each stage's weights for generation's plain pass, built when first asked for.
    plain: OnceLock<Vec<CpuStage>>,
    /// Per stage and layer, the keys and values of every clip bar that generation starts
    /// from (`generate::prime`), worked out when first asked for.
    primed: OnceLock<Vec<Vec<PlainKeys>>>,
}

impl SintraModel {
    pub fn new(meta: ModelMeta, stages: Vec<Stage>, device: &Device) -> Self {
        Self { meta, stages, device: device.clone(), plain: OnceLock::new(), primed: OnceLock::new() }
    }

    /// Per stage and layer, the keys and values of every clip bar that generation starts
    /// from, from `prime` the first time: every generator of the model (each variation, each
    /// press of Generate) starts from the same clip.
    pub fn primed(
        &self,
        prime: impl FnOnce(&Self) -> candle_core::Result<Vec<Vec<PlainKeys>>>,
    ) -> candle_core::Result<&[Vec<PlainKeys>]> {
        if let Some(keys) = self.primed.get() {
            return Ok(keys);
        }
        let keys = prime(self)?;
        Ok(self.primed.get_or_init(|| keys))
    }

    /// On the CPU, each stage's weights for generation's plain pass (`model::inference`),
    /// built once for the model (3 ms, which every generator used to spend again); on a GPU
    /// none.
    pub fn cpu_stages(&self) -> candle_core::Result<Option<&[CpuStage]>> {
        if !self.device.is_cpu() {
            return Ok(None);
        }
        if let Some(stages) = self.plain.get() {
            return Ok(Some(stages));
        }
        let stages =
            self.stages.iter().map(|s| CpuStage::new(&s.model)).collect::<candle_core::Result<_>>()?;
        Ok(Some(self.plain.get_or_init(|| stages)))
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let mut tensors: Vec<(String, Tensor)> = Vec::new();
        for (i, stage) in self.stages.iter().enumerate() {
            let data = stage.varmap.data().lock().expect("var map lock");
            for (name, var) in data.iter() {
                let t = var.as_tensor().to_device(&Device::Cpu).map_err(|e| e.to_string())?;
                tensors.push((format!("stage{i}.{name}"), t));
            }
        }
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        let meta = serde_json::to_string(&self.meta).map_err(|e| e.to_string())?;
        let info = HashMap::from([("sintra".to_string(), meta)]);
        safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(info))
            .map_err(|e| e.to_string())
    }

    /// Writes the model through a temporary file, so a failure never leaves half a file.
    pub fn save(&self, path: &Path) -> Result<(), FileError> {
        let bytes =
            self.to_bytes().map_err(|e| FileError::new(path, format!("cannot save the model: {e}")))?;
        let tmp = path.with_extension("part");
        let err = |e: std::io::Error| FileError::new(path, format!("cannot write: {e}"));
        std::fs::write(&tmp, bytes).map_err(err)?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            err(e)
        })
    }

    /// Reads a model file onto `device`.
    pub fn load(path: &Path, device: &Device) -> Result<Self, FileError> {
        let bytes = std::fs::read(path).map_err(|e| FileError::new(path, format!("cannot read: {e}")))?;
        Self::from_bytes(&bytes, device).map_err(|reason| FileError::new(path, reason))
    }

    /// Parses model bytes; the error says what is wrong without the file name.
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Self, String> {
        let not_ours = "not a SinTra model file";
        let (_, header) =
            safetensors::SafeTensors::read_metadata(bytes).map_err(|e| format!("{not_ours} ({e})"))?;
        let json = header.metadata().as_ref().and_then(|m| m.get("sintra")).ok_or(not_ours)?;
        let meta: ModelMeta = serde_json::from_str(json).map_err(|e| format!("{not_ours} ({e})"))?;
        if meta.format != FORMAT {
            return Err(not_ours.into());
        }
        if !(1..=VERSION).contains(&meta.version) {
            return Err(format!(
                "model file version {} is not supported (this build reads 1 to {VERSION})",
                meta.version
            ));
        }
        let damaged = |e: String| format!("the model file is damaged ({e})");
        // Priming a generator runs the whole clip through every stage: its length is bounded
        // here as it was in training.
        if meta.bars < 2 {
            return Err(damaged(format!("a model learns at least 2 bars, this one says {}", meta.bars)));
        }
        meta.clip.check_length().and(check_bars(meta.bars)).map_err(damaged)?;
        let tensors =
            candle_core::safetensors::load_buffer(bytes, device).map_err(|e| damaged(e.to_string()))?;
        let vocab = meta.groups.len();
        if meta.restruck.len() > vocab {
            return Err(damaged("more re-strikes than tokens in the dictionary".into()));
        }
        let tracks = meta.clip.tracks.len();
        if meta.allowed.len() != meta.resolutions.len() || meta.allowed.iter().any(|a| a.len() != tracks) {
            return Err(damaged("stage vocabularies do not match the clip".into()));
        }
        if meta.allowed.iter().flatten().flatten().any(|&t| t as usize >= vocab) {
            return Err(damaged("a vocabulary names a token outside the dictionary".into()));
        }
        if meta.allowed.iter().flatten().any(|v| v.is_empty() || !v.is_sorted_by(|a, b| a < b)) {
            return Err(damaged("a track's vocabulary is empty or out of order".into()));
        }
        let mut stages = Vec::new();
        for (i, (&resolution, allowed)) in meta.resolutions.iter().zip(&meta.allowed).enumerate() {
            let stride = resolution.stride(meta.clip.meta.grid);
            let per_bar = (meta.clip.meta.steps_per_bar() as usize) / stride;
            let (varmap, model) = build_stage(meta.config, vocab, per_bar, allowed, device)
                .map_err(|e| damaged(e.to_string()))?;
            for (name, var) in varmap.data().lock().expect("var map lock").iter() {
                let key = format!("stage{i}.{name}");
                let t = tensors.get(&key).ok_or_else(|| damaged(format!("{key} is missing")))?;
                if t.dims() != var.dims() {
                    return Err(damaged(format!(
                        "{key} has shape {:?}, expected {:?}",
                        t.dims(),
                        var.dims()
                    )));
                }
                var.set(t).map_err(|e| damaged(e.to_string()))?;
            }
            stages.push(Stage { resolution, stride, allowed: allowed.clone(), varmap, model });
        }
        Ok(Self::new(meta, stages, device))
    }
}
