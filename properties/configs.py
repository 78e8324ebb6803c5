"""Named machine configurations that counterexample files and targets refer to."""

from __future__ import annotations

from impl.boot import PcpuConfig, small_config

PRESETS: dict[str, PcpuConfig] = {
    "small16": small_config(16),
    "small32": small_config(32),
    "small64": small_config(64),
    "real4096": PcpuConfig(page_size=4096, possible_cpus=(0, 1)),
    "debian-smp4": PcpuConfig(),
}

# integer knobs a file may override after the preset name, e.g. "small16 reserved_size=128"
INT_KNOBS = ("page_size", "static_size", "reserved_size", "dyn_size", "atom_size", "min_unit_size", "dynamic_early_size")


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

    return replace(cfg, **changes)  # type: ignore[arg-type]
