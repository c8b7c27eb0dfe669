"""What every reader hands over: a capture's wires as change lists in integer nanoseconds,
its analog channels as samples, where it starts and ends, and its sample period (the
quantum every measured interval is uncertain by). Also the mapping of the verifier's roles
(phase_a, phase_b, sync, gate, sense, and trigger and
marker for a triggered protocol) onto the capture's channel names."""

import re

from tvns_tools.firmware import ToolError

ROLES = ("phase_a", "phase_b", "sync", "gate", "sense", "trigger", "marker")
# docs/VERIFY.md's recipe: GP2..GP5 on the analyzer's D0..D3.
RECIPE_CHANNELS = {"phase_a": "D0", "phase_b": "D1", "sync": "D2", "gate": "D3"}


class Unreadable(ToolError):
    """The capture cannot be read or used: exit 1."""

    def __init__(self, message):
        super().__init__(message, exit_code=1)


class Capture:
    def __init__(self, path, fmt):
        self.path = str(path)
        self.format = fmt
        self.digital = {}  # channel name -> [(t_ns, level)], first entry = level at start
        self.analog = {}  # channel name -> ([t_ns], [value]), value in units[name]
        self.units = {}  # analog channel -> "V" (a voltage) or "uA" (a current already)
        self.order = []  # channel names in file order
        self.start_ns = None
        self.end_ns = None
        self.sample_ns = None  # float: the sample period
        self.sample_source = ""  # where the sample period came from
        self.resolution_ns = 1  # time resolution of the file itself (timescale, digits)
        self.notes = []

    def add_digital(self, name, changes):
        self.digital[name] = changes
        self.order.append(name)

    def add_analog(self, name, times, values, unit="V"):
        self.analog[name] = (times, values)
        self.units[name] = unit
        self.order.append(name)

    def set_sample_period(self, ns, source):
        if ns is not None and ns > 0:
            self.sample_ns = float(ns)
            self.sample_source = source

    def duration_ns(self):
        return self.end_ns - self.start_ns


def _norm(name):
    """Channel names compared loosely: 'D0', 'd0', 'Channel 0' and 'CH0' are one channel."""
    n = re.sub(r"[\s_\-\[\]]", "", str(name).lower())
    m = re.fullmatch(r"(?:d|ch|channel|probe)(\d+)", n)
    return "ch%d" % int(m.group(1)) if m else n


def parse_channels(spec):
    """'phase_a=D0,phase_b=D1' -> {'phase_a': 'D0', ...}; ToolError naming the bad part."""
    out = {}
    if not spec:
        return out
    for part in spec.split(","):
        role, sep, name = part.partition("=")
        role, name = role.strip(), name.strip()
        if not sep or not name or role not in ROLES:
            raise ToolError(
                "--channels %r: expected ROLE=CHANNEL pairs with ROLE one of %s"
                % (part, ", ".join(ROLES))
            )
        out[role] = name
    return out


def map_roles(cap, wanted):
    """{role: channel name in the capture}. Explicit --channels first; otherwise wires named
    like the roles (our VCDs, a PulseView session with renamed channels); otherwise the
    recipe's D0..D3. Unreadable when phase A and B cannot be found (an analog sense channel
    alone will do: the phases are then taken from it)."""
    by_norm = {}
    for name in cap.order:
        by_norm.setdefault(_norm(name), name)
    roles = {}
    for role, name in wanted.items():
        found = by_norm.get(_norm(name))
        if found is None:
            raise Unreadable(
                "--channels %s=%s: no channel %r in %s (channels: %s)"
                % (role, name, name, cap.path, ", ".join(cap.order) or "none")
            )
        roles[role] = found
    for role in ROLES:
        if role in roles:
            continue
        if _norm(role) in by_norm:
            roles[role] = by_norm[_norm(role)]
    if "phase_a" not in roles and "phase_b" not in roles:
        recipe = {r: by_norm.get(_norm(c)) for r, c in RECIPE_CHANNELS.items()}
        if recipe["phase_a"] in cap.digital and recipe["phase_b"] in cap.digital:
            for role, name in recipe.items():
                if name in cap.digital and name not in roles.values():
                    roles[role] = name
            cap.notes.append("channels: the recipe's D0..D3 (docs/VERIFY.md)")
    if "sense" not in roles and len(cap.analog) == 1:
        roles["sense"] = next(iter(cap.analog))
    for role in ("phase_a", "phase_b", "sync", "gate", "trigger", "marker"):
        if role in roles and roles[role] not in cap.digital:
            raise Unreadable("channel %r (%s) is not a digital channel" % (roles[role], role))
    if "sense" in roles and roles["sense"] not in cap.analog:
        raise Unreadable("channel %r (sense) is not an analog channel" % roles["sense"])
    have_phases = "phase_a" in roles and "phase_b" in roles
    if not have_phases and "sense" not in roles:
        raise Unreadable(
            "no phase_a/phase_b channels in %s (channels: %s): name them with "
            "--channels phase_a=NAME,phase_b=NAME" % (cap.path, ", ".join(cap.order) or "none")
        )
    if ("phase_a" in roles) != ("phase_b" in roles):
        missing = "phase_b" if "phase_a" in roles else "phase_a"
        raise Unreadable("no %s channel in %s: give it with --channels" % (missing, cap.path))
    return roles
