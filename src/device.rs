//! Choosing where the maths runs: the CPU, or CUDA when this build has it and a GPU answers.

use candle_core::Device;

/// What the user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceChoice {
    /// CUDA if this build has it and a GPU answers, else the CPU.
    Auto,
    /// The CPU.
    Cpu,
    /// The first CUDA GPU (builds with the `cuda` feature).
    Cuda,
}

/// The device for `choice`, and its name ("cpu" or "cuda").
pub fn select(choice: DeviceChoice) -> Result<(Device, &'static str), String> {
    match choice {
        DeviceChoice::Cpu => Ok((Device::Cpu, "cpu")),
        DeviceChoice::Cuda => cuda().map(|d| (d, "cuda")),
        DeviceChoice::Auto => Ok(cuda().map_or((Device::Cpu, "cpu"), |d| (d, "cuda"))),
    }
}

#[cfg(feature = "cuda")]
fn cuda() -> Result<Device, String> {
    Device::new_cuda(0).map_err(|e| format!("no CUDA GPU answered: {e}"))
}

#[cfg(not(feature = "cuda"))]
fn cuda() -> Result<Device, String> {
    Err("this build has no CUDA support; rebuild with `--features cuda`".into())
}

/// A short name for a device.
pub fn name(device: &Device) -> &'static str {
    if device.is_cuda() {
        "cuda"
    } else {
        "cpu"
    }
}
