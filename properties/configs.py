"""Named machine configurations that counterexample files and targets refer to."""

from __future__ import annotations

from impl.boot import PcpuConfig, small_config

PRESETS: dict[str, PcpuConfig] = {
    "small16": small_config(16),
    "small32": small_config(32),
    "small64": small_config(64),
    "real4096": PcpuConfig(page_size=4096, possible_cpus=(0, 1)),
    "debian-smp4": PcpuConfig(),
    # SMP machines on 16-bit blocks (512-byte units keep 64 CPUs cheap): CPU counts
    # 1, 3, 4 and 64, sparse and non-power-of-two possible sets, NUMA groups, km
    "smp1": small_config(16, possible_cpus=(0,)),
    "smp3-sparse": small_config(16, possible_cpus=(0, 2, 5)),
    "numa4": small_config(16, possible_cpus=(0, 1, 2, 3), cpu_nodes=(0, 0, 1, 1)),
    "numa3-sparse": small_config(16, possible_cpus=(1, 4, 6), cpu_nodes=(0, 1, 1)),
    "smp64": small_config(16, possible_cpus=tuple(range(64))),
    "numa64": small_config(16, possible_cpus=tuple(range(64)), cpu_nodes=tuple(cpu // 16 for cpu in range(64))),
    "km4": small_config(16, possible_cpus=(0, 1, 2, 3), backend="km"),
    "km3-sparse": small_config(16, possible_cpus=(0, 2, 5), backend="km"),
}

# the presets make verify walks beyond small16..real4096 (see tools/verify.py)
SMP_PRESETS = ("smp1", "smp3-sparse", "numa4", "numa3-sparse", "smp64", "numa64", "km4", "km3-sparse")

# integer knobs a file may override after the preset name, e.g. "small16 reserved_size=128"
INT_KNOBS = (
    "page_size", "static_size", "reserved_size", "dyn_size", "atom_size", "min_unit_size", "dynamic_early_size",
)


class ConfigError(ValueError):
    """A configuration line that names no preset or a bad knob."""


def parse_config(text: str) -> PcpuConfig:
    """``preset [knob=value ...] [cpus=0,1,2] [backend=vm|km]`` to a configuration."""
    words = text.split()
    if not words or words[0] not in PRESETS:
        raise ConfigError(f"unknown configuration {words[0] if words else '(empty)'!r}; presets: {', '.join(PRESETS)}")
    cfg = PRESETS[words[0]]
    changes: dict[str, object] = {}
    for w in words[1:]:
        key, sep, val = w.partition("=")
        if not sep:
            raise ConfigError(f"configuration knob {w!r} is not key=value")
        try:
            if key in INT_KNOBS:
                changes[key] = int(val, 0)
            elif key == "cpus":
                changes["possible_cpus"] = tuple(int(x) for x in val.split(","))
            elif key == "nodes":
                changes["cpu_nodes"] = tuple(int(x) for x in val.split(","))
            elif key == "backend" and val in ("vm", "km"):
                changes["backend"] = val
            else:
                raise ConfigError(f"unknown configuration knob {key!r}")
        except ValueError as e:
            if isinstance(e, ConfigError):
                raise
            raise ConfigError(f"configuration knob {key!r} has a bad value {val!r}") from None
    if not changes:
        return cfg
    from dataclasses import replace

    if "possible_cpus" in changes and "cpu_nodes" not in changes:
        changes["cpu_nodes"] = None  # a new CPU set drops the preset's nodes unless nodes= is given
    out = replace(cfg, **changes)  # type: ignore[arg-type]
    cpus = out.possible_cpus
    if not cpus or len(set(cpus)) != len(cpus) or min(cpus) < 0:
        raise ConfigError(f"configuration knob 'cpus' must list distinct CPU numbers >= 0, got {cpus}")
    if out.cpu_nodes is not None and len(out.cpu_nodes) != len(cpus):
        raise ConfigError(f"configuration knob 'nodes' needs one node per CPU ({len(cpus)}), got {len(out.cpu_nodes)}")
    return out


def check_boots(cfg: PcpuConfig) -> None:
    """Raises ConfigError naming the kernel rule a configuration breaks at boot, if any."""
    from impl.alloc_info import PcpuSetupError
    from impl.boot import boot

    try:
        boot(cfg)
    except PcpuSetupError as e:
        raise ConfigError(f"configuration does not boot: {e}") from None
