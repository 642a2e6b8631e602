//! Execution providers: which ONNX Runtime backend runs a detection model.
//!
//! * **CPU** is the default and always available.
//! * **CUDA** (cargo feature `cuda`) and **TensorRT** (cargo feature `tensorrt`, with CUDA
//!   registered behind it for the nodes TensorRT does not take) need an ONNX Runtime library
//!   built with them: the `onnxruntime-gpu` wheel, not the CPU `onnxruntime` wheel.
//!
//! Two ways to ask for a GPU, with different failure rules:
//!
//! * `gpu_enabled: true` (the service's default) **prefers** the GPU: TensorRT when built
//!   in, else CUDA; when neither can be used (feature not built, provider missing from the
//!   library, registration failed) the model runs on the CPU and the stage emits a
//!   `warning` pipeline event (and a `tracing` warning) saying why.
//! * `device: "cuda" | "tensorrt"` (`--device` on the command line) **demands** it: when it
//!   cannot be used, building the pipeline fails with
//!   [`DetectionError::ProviderUnavailable`] naming what is missing. `device: "cpu"` forces
//!   the CPU even with `gpu_enabled`.
//!
//! `CUDA_VISIBLE_DEVICES` set in the environment is applied by CUDA itself: the model runs
//! on device 0 of the visible list. Set only in the config (`cuda_visible_devices`), a list
//! of device numbers selects its first entry as the device id (UUIDs must be set in the
//! environment). `gpu_memory_fraction` (`GPU_MEMORY_FRACTION`) becomes the CUDA provider's
//! memory limit: that fraction of the device's total memory, read from the CUDA runtime.

use std::fmt;

use crate::config::{InferenceDevice, PipelineConfig};

use super::DetectionError;

/// How detection models are run: the execution provider asked for and the GPU settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExecutionOptions {
    /// A provider that must be used (`None`: CPU, or the GPU when `gpu_enabled` and usable).
    pub device: Option<InferenceDevice>,
    /// Prefer a GPU provider, falling back to the CPU with a warning.
    pub gpu_enabled: bool,
    /// Share of the GPU's memory the CUDA provider may use, in `(0, 1]`.
    pub gpu_memory_fraction: Option<f64>,
    /// The `cuda_visible_devices` setting (see the module docs).
    pub cuda_visible_devices: Option<String>,
    /// Where TensorRT keeps the engines it builds (`<model_cache_dir>/tensorrt`): building
    /// one takes minutes, and a cached engine is reused by the next session with the same
    /// model and GPU. `None`: engines are rebuilt by every process.
    pub engine_cache_dir: Option<std::path::PathBuf>,
}

impl ExecutionOptions {
    /// The options of a pipeline config (`gpu_enabled`, `gpu_memory_fraction`,
    /// `cuda_visible_devices`, `model_cache_dir`, `stage_configs.player_detection.device`).
    pub fn from_config(config: &PipelineConfig) -> Self {
        ExecutionOptions {
            device: config.stage_configs.player_detection.device,
            gpu_enabled: config.gpu_enabled,
            gpu_memory_fraction: config.gpu_memory_fraction,
            cuda_visible_devices: config.cuda_visible_devices.clone(),
            engine_cache_dir: config.model_cache_dir.as_ref().map(|dir| dir.join("tensorrt")),
        }
    }

    /// The providers to try, best first, and whether failing them all is an error
    /// (demanded) or a fallback to the CPU (preferred).
    pub(super) fn candidates(&self) -> (Vec<InferenceDevice>, bool) {
        match self.device {
            Some(InferenceDevice::Cpu) => (vec![], false),
            Some(d) => (vec![d], true),
            // Both, whatever was built: a provider missing from the build is one more reason
            // in the fallback warning.
            None if self.gpu_enabled => (vec![InferenceDevice::Tensorrt, InferenceDevice::Cuda], false),
            None => (vec![], false),
        }
    }

    /// The CUDA device id: 0 of the visible devices, or the first entry of a
    /// `cuda_visible_devices` config value that the environment does not already apply.
    pub fn device_id(&self) -> Result<i32, DetectionError> {
        let Some(list) = self.cuda_visible_devices.as_deref().map(str::trim).filter(|l| !l.is_empty()) else {
            return Ok(0);
        };
        if std::env::var("CUDA_VISIBLE_DEVICES").is_ok_and(|env| env.trim() == list) {
            return Ok(0);
        }
        let first = list.split(',').next().unwrap_or_default().trim();
        first.parse::<i32>().ok().filter(|&id| id >= 0).ok_or_else(|| {
            DetectionError::InvalidConfig(format!(
                "cuda_visible_devices {list:?}: only device numbers can be applied from the config; \
                 set CUDA_VISIBLE_DEVICES in the environment for other forms"
            ))
        })
    }
}

/// The provider a session was created with, part of the session cache key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProviderChoice {
    /// Which provider.
    pub device: InferenceDevice,
    /// CUDA device id (0 on the CPU).
    pub device_id: i32,
    /// CUDA memory limit in bytes, when one was set.
    pub memory_limit: Option<usize>,
    /// TensorRT's engine cache directory (TensorRT only).
    pub engine_cache: Option<std::path::PathBuf>,
}

impl ProviderChoice {
    /// ONNX Runtime's CPU provider.
    pub const CPU: ProviderChoice =
        ProviderChoice { device: InferenceDevice::Cpu, device_id: 0, memory_limit: None, engine_cache: None };
}

impl fmt::Display for ProviderChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.device {
            InferenceDevice::Cpu => f.write_str("cpu"),
            d => write!(f, "{d} (device {})", self.device_id),
        }
    }
}

/// Why `device` cannot be used with this build and this ONNX Runtime library, or the
/// settings to register it with.
pub(super) fn check(device: InferenceDevice, opts: &ExecutionOptions) -> Result<ProviderChoice, String> {
    if device == InferenceDevice::Cpu {
        return Ok(ProviderChoice::CPU);
    }
    let feature_built = match device {
        InferenceDevice::Cuda => cfg!(feature = "cuda"),
        InferenceDevice::Tensorrt => cfg!(feature = "tensorrt"),
        InferenceDevice::Cpu => true,
    };
    if !feature_built {
        return Err(format!("footml was built without the `{device}` cargo feature"));
    }
    gpu::check(device, opts)
}

/// Registers `choice` on a session builder (errors when registration fails, rather than
/// ONNX Runtime's default of silently using the CPU).
pub(super) fn register(
    builder: ort::session::builder::SessionBuilder,
    choice: &ProviderChoice,
) -> Result<ort::session::builder::SessionBuilder, String> {
    if choice.device == InferenceDevice::Cpu {
        return Ok(builder);
    }
    gpu::register(builder, choice)
}

#[cfg(any(feature = "cuda", feature = "tensorrt"))]
mod gpu {
    //! The GPU providers, compiled with the `cuda` or `tensorrt` feature.

    use ort::ep::ExecutionProvider;
    use ort::session::builder::SessionBuilder;

    use super::{ExecutionOptions, InferenceDevice, ProviderChoice};

    /// Checks that the loaded ONNX Runtime has the provider and works out its settings.
    pub(super) fn check(device: InferenceDevice, opts: &ExecutionOptions) -> Result<ProviderChoice, String> {
        let lib = super::super::find_onnxruntime().map(|p| p.display().to_string()).unwrap_or_default();
        let has = |name: &str, available: ort::Result<bool>| match available {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!(
                "the ONNX Runtime library {lib} has no {name} (install the `onnxruntime-gpu` wheel, or set \
                 ORT_DYLIB_PATH to a GPU build)"
            )),
            Err(e) => Err(format!("cannot list the providers of ONNX Runtime: {e}")),
        };
        super::super::onnxruntime().map_err(|e| e.to_string())?;
        #[cfg(feature = "cuda")]
        let cuda = || ort::ep::CUDA::is_available();
        #[cfg(not(feature = "cuda"))]
        let cuda = || -> ort::Result<bool> { Ok(false) };
        match device {
            InferenceDevice::Cuda => has("CUDAExecutionProvider", cuda())?,
            InferenceDevice::Tensorrt => {
                #[cfg(feature = "tensorrt")]
                has("TensorrtExecutionProvider", ort::ep::TensorRT::is_available())?;
                #[cfg(not(feature = "tensorrt"))]
                return Err("footml was built without the `tensorrt` cargo feature".into());
            }
            InferenceDevice::Cpu => return Ok(ProviderChoice::CPU),
        }
        let device_id = opts.device_id().map_err(|e| e.to_string())?;
        let memory_limit = match opts.gpu_memory_fraction {
            Some(f) => Some((f * cudart::total_memory(device_id)? as f64) as usize),
            None => None,
        };
        let engine_cache = match (device, &opts.engine_cache_dir) {
            (InferenceDevice::Tensorrt, Some(dir)) => {
                // TensorRT writes into it but does not create it.
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create the TensorRT engine cache {}: {e}", dir.display()))?;
                Some(dir.clone())
            }
            _ => None,
        };
        Ok(ProviderChoice { device, device_id, memory_limit, engine_cache })
    }

    /// Registers the provider (TensorRT with CUDA behind it).
    pub(super) fn register(builder: SessionBuilder, choice: &ProviderChoice) -> Result<SessionBuilder, String> {
        let mut eps = Vec::new();
        #[cfg(feature = "tensorrt")]
        if choice.device == InferenceDevice::Tensorrt {
            let mut trt = ort::ep::TensorRT::default().with_device_id(choice.device_id);
            if let Some(dir) = &choice.engine_cache {
                trt = trt.with_engine_cache(true).with_engine_cache_path(dir.display());
                trt = trt.with_timing_cache(true).with_timing_cache_path(dir.display());
            }
            eps.push(trt.build().error_on_failure());
        }
        #[cfg(feature = "cuda")]
        {
            let mut cuda = ort::ep::CUDA::default().with_device_id(choice.device_id);
            if let Some(limit) = choice.memory_limit {
                cuda = cuda.with_memory_limit(limit);
            }
            // Behind TensorRT it takes what TensorRT cannot; its failure there is not fatal.
            let cuda = cuda.build();
            eps.push(if choice.device == InferenceDevice::Cuda { cuda.error_on_failure() } else { cuda });
        }
        builder.with_execution_providers(eps).map_err(|e| e.to_string())
    }

    mod cudart {
        //! Total device memory from the CUDA runtime (for `gpu_memory_fraction`).

        use std::ffi::c_int;

        /// Sonames of the CUDA runtime that ONNX Runtime GPU builds link against.
        const LIBS: &[&str] = &["libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"];

        pub(in super::super) fn total_memory(device_id: i32) -> Result<usize, String> {
            // SAFETY: loading the CUDA runtime runs its initialisers, which have no
            // preconditions; the symbols are called with the signatures of cuda_runtime_api.h.
            unsafe {
                let lib = LIBS.iter().find_map(|name| libloading::Library::new(*name).ok()).ok_or_else(|| {
                    format!("gpu_memory_fraction needs the CUDA runtime (looked for {})", LIBS.join(", "))
                })?;
                let set_device: libloading::Symbol<unsafe extern "C" fn(c_int) -> c_int> =
                    lib.get(b"cudaSetDevice\0").map_err(|e| e.to_string())?;
                let mem_info: libloading::Symbol<unsafe extern "C" fn(*mut usize, *mut usize) -> c_int> =
                    lib.get(b"cudaMemGetInfo\0").map_err(|e| e.to_string())?;
                let rc = set_device(device_id);
                if rc != 0 {
                    return Err(format!("cudaSetDevice({device_id}) failed with CUDA error {rc}"));
                }
                let (mut free, mut total) = (0usize, 0usize);
                let rc = mem_info(&mut free, &mut total);
                if rc != 0 {
                    return Err(format!("cudaMemGetInfo failed with CUDA error {rc}"));
                }
                // The runtime stays loaded: CUDA must not be unloaded under a live context.
                std::mem::forget(lib);
                Ok(total)
            }
        }
    }
}

#[cfg(not(any(feature = "cuda", feature = "tensorrt")))]
mod gpu {
    //! Without the `cuda` and `tensorrt` features no GPU provider exists; `check` never
    //! gets here (it stops at the feature test), this keeps the call sites free of `cfg`.

    use ort::session::builder::SessionBuilder;

    use super::{ExecutionOptions, InferenceDevice, ProviderChoice};

    pub(super) fn check(device: InferenceDevice, _opts: &ExecutionOptions) -> Result<ProviderChoice, String> {
        Err(format!("footml was built without the `{device}` cargo feature"))
    }

    pub(super) fn register(_builder: SessionBuilder, choice: &ProviderChoice) -> Result<SessionBuilder, String> {
        Err(format!("footml was built without the `{}` cargo feature", choice.device))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_follow_device_then_gpu_enabled() {
        let opts = |device, gpu_enabled| ExecutionOptions { device, gpu_enabled, ..Default::default() };
        assert_eq!(opts(None, false).candidates(), (vec![], false));
        assert_eq!(opts(Some(InferenceDevice::Cpu), true).candidates(), (vec![], false));
        assert_eq!(opts(Some(InferenceDevice::Cuda), false).candidates(), (vec![InferenceDevice::Cuda], true));
        let preferred = vec![InferenceDevice::Tensorrt, InferenceDevice::Cuda];
        assert_eq!(opts(None, true).candidates(), (preferred, false));
    }

    #[test]
    fn device_id_from_cuda_visible_devices() {
        let opts =
            |v: Option<&str>| ExecutionOptions { cuda_visible_devices: v.map(String::from), ..Default::default() };
        assert_eq!(opts(None).device_id().unwrap(), 0);
        // The environment of this test process does not set the variable (checked, so the
        // expectations below hold).
        if std::env::var_os("CUDA_VISIBLE_DEVICES").is_none() {
            assert_eq!(opts(Some("3,1")).device_id().unwrap(), 3);
            assert_eq!(opts(Some(" 2 ")).device_id().unwrap(), 2);
            let e = opts(Some("GPU-8a1b")).device_id().unwrap_err();
            assert!(matches!(e, DetectionError::InvalidConfig(_)) && e.to_string().contains("environment"), "{e}");
        }
    }
}
