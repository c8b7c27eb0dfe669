# ESP32 inputs: current sense (ADC1), compliance comparator, e-stop, and the output stage's
# hardware kill latch (hardware/DESIGN.md, OS-1: comparator and e-stop -> flip-flop ->
# bridge enable, state readable on LQ, reset by a firmware pulse on LRST_n).
#
# Fail-safe wiring, as on the Pico: every input is pulled so that a cut wire reads as the
# fault (e-stop low = pressed, compliance high, latch Q high, OC_OK low). Input-only pins
# (GPIO34-39) have no internal pulls: esp32_pins.py refuses a pull there.
#
# ADC: MicroPython's read_uv() applies the chip's eFuse calibration (line fitting on the
# ESP32), and the board keeps every reading inside the ADC's linear window for its
# attenuation: the sense front end adds a pedestal (pedestal_mv, OS-1 for ESP32: a divider
# at the ADC input) so 0 mA is not in the dead zone near 0 V, and the ceiling's 110 % stays
# below the top of the window. Both are checked when the board is built.
#
# Soft IRQs (pin IRQs are always scheduled callbacks on the ESP32) record an e-stop press
# or an overcurrent trip even when it is gone by the next tick (the latch has cut the
# bridge, the comparator has fallen back): board.kill names the cause from them
# (docs/BOARD-INTERFACE.md); safe_off() clears them once a fault has been latched.
from tvns import safety as F
from tvns.board.config import gpio, need, num
from tvns.errors import OUT_OF_RANGE, TvnsError

GPIO_MAX = 39
# ADC linear window (mV) per attenuation: ESP-IDF's suggested ranges for the ESP32.
ATTEN_WINDOW_MV = {0: (100, 950), 2.5: (100, 1250), 6: (150, 1750), 11: (150, 2450)}
_ATTEN_CONST = {0: "ATTN_0DB", 2.5: "ATTN_2_5DB", 6: "ATTN_6DB", 11: "ATTN_11DB"}


def _pin(config, name):
    return gpio(config, name, GPIO_MAX)


def _input(machine, config, name):
    """Pin.IN with the pull the map names ("up", "down" or none)."""
    Pin = machine.Pin
    pull = config["pins"][name].get("pull")
    mode = {"up": Pin.PULL_UP, "down": Pin.PULL_DOWN}.get(pull)
    if mode is None:
        return Pin(_pin(config, name), Pin.IN)
    return Pin(_pin(config, name), Pin.IN, mode)


class Latch:
    """The output stage's kill latch and what tripped it. Optional: a map without
    pins.latch_q has no latch (then only the tick's monitors stop the output)."""

    def __init__(self, machine, config, time_mod):
        pins = config["pins"]
        self._time = time_mod
        self.estop_seen = False  # set by the soft IRQs, cleared by clear_seen()
        self.oc_seen = False
        self._q = _input(machine, config, "latch_q") if "latch_q" in pins else None
        self._rst = None
        if self._q is not None:
            Pin = machine.Pin
            # LRST_n idles high (the latch holds); boot.py already drove it there.
            self._rst = Pin(_pin(config, "latch_reset"), Pin.OUT, value=1)
        self._oc = _input(machine, config, "overcurrent") if "overcurrent" in pins else None
        self._on_oc = self._oc_irq  # bound once: a handler must not allocate
        if self._oc is not None:
            self._oc.irq(handler=self._on_oc, trigger=machine.Pin.IRQ_FALLING)

    def _oc_irq(self, _pin):
        self.oc_seen = True

    def killed(self):
        return self._q is not None and self._q.value() == 1

    def oc_now(self):
        return self._oc is not None and self._oc.value() == 0

    def clear_seen(self):
        self.estop_seen = False
        self.oc_seen = False

    def reset(self):
        """Main loop only (arm, clear): if the latch is set and its cause has gone, pulse
        LRST_n low and read the latch back. Returns a safety fault code, F.NONE when the
        bridge may run."""
        if self._q is None or not self.killed():
            return F.NONE
        if self.oc_now():
            return F.OVERCURRENT  # the comparator still sees it: the latch must hold
        self._rst.value(0)
        self._time.sleep_us(20)  # the 74LVC1G74 needs a few ns; OS-1 asks >= 10 us
        self._rst.value(1)
        if self.killed():
            return F.KILL  # the latch will not let go (e-stop loop open?): bridge off
        return F.NONE


class KillLatch:
    """board.kill on the ESP32: OS-1's latch has cut the bridge in hardware; this names it
    for the tick (tripped) and for the self-test (asserted, cause_now)."""

    def __init__(self, latch, estop):
        self._latch = latch
        self._estop = estop

    def asserted(self):
        return self._latch.killed()

    def tripped(self):
        latch = self._latch
        if not latch.killed():
            return F.NONE
        if latch.oc_seen or latch.oc_now():
            return F.OVERCURRENT
        if latch.estop_seen or self._estop.asserted():
            return F.ESTOP
        return F.KILL  # no cause seen (a lost IRQ, a supply glitch): the kill line itself

    def cause_now(self):
        latch = self._latch
        if latch.oc_now():
            return F.OVERCURRENT
        if self._estop.asserted():
            return F.ESTOP
        return F.NONE


class Sense:
    """Sense resistor -> amplifier -> hold -> pedestal -> ADC1. read_uv (eFuse calibrated);
    ua = (mV - pedestal) * k_q12 >> 12 + offset."""

    def __init__(self, machine, config, ceiling_ua, latch):
        cfg = need(config, "sense", "sense")
        r_ohms = num(cfg, "r_ohms", "sense.r_ohms", 1, 100_000)
        amp_gain = num(cfg, "amp_gain", "sense.amp_gain", 0.1, 1000, 1)
        cal_gain = num(cfg, "cal_gain", "sense.cal_gain", 0.5, 2.0, 1.0)
        atten = num(cfg, "atten_db", "sense.atten_db", 0, 11, 6)
        if atten not in ATTEN_WINDOW_MV:
            raise TvnsError(
                OUT_OF_RANGE, "sense.atten_db must be 0, 2.5, 6 or 11", "sense.atten_db"
            )
        lo_mv, hi_mv = ATTEN_WINDOW_MV[atten]
        self._ped_mv = int(num(cfg, "pedestal_mv", "sense.pedestal_mv", lo_mv, hi_mv, 200))
        self._offset_ua = int(num(cfg, "offset_ua", "sense.offset_ua", -500, 500, 0))
        # Q12: at most 3300 mV * k_q12 stays a small int (no allocation in the tick).
        self._k_q12 = int(1000 * cal_gain * 4096 / (r_ohms * amp_gain) + 0.5)
        top_mv = self._ped_mv + (ceiling_ua * 11 // 10) * r_ohms * amp_gain / 1000 / cal_gain
        if top_mv > hi_mv or 3300 * self._k_q12 >= 1 << 30:
            raise TvnsError(
                OUT_OF_RANGE,
                "sense: 110%% of the ceiling reads %d mV, above the ADC's linear %d mV at %s dB"
                % (top_mv, hi_mv, atten),
                "sense.r_ohms",
            )
        self.full_scale_ua = ((hi_mv - self._ped_mv) * self._k_q12) >> 12
        step = self._k_q12 >> 12  # read_uv comes in whole mV
        self.step_ua = step if step > 0 else 1
        ADC = machine.ADC
        self._adc = ADC(
            machine.Pin(_pin(config, "sense_adc")), atten=getattr(ADC, _ATTEN_CONST[atten])
        )
        try:
            self._adc.read_uv()  # builds the eFuse calibration now
        except OSError:
            raise TvnsError(
                OUT_OF_RANGE, "sense: this chip has no eFuse ADC calibration", "pins.sense_adc"
            ) from None
        self._latch = latch
        self._comp = None
        if "compliance" in config["pins"]:
            self._comp_active = int(
                num(cfg, "compliance_active", "sense.compliance_active", 0, 1, 1)
            )
            self._comp = _input(machine, config, "compliance")

    def read_ua(self):
        mv = self._adc.read_uv() // 1000
        ua = ((mv - self._ped_mv) * self._k_q12 >> 12) + self._offset_ua
        return ua if ua > 0 else 0

    def read_compliance(self):
        if self._comp is None:
            return False
        return self._comp.value() == self._comp_active

    def self_test(self):
        """Arm and clear: the latch must let go once its cause has gone."""
        code = self._latch.reset()
        self._latch.clear_seen()
        return code


class Estop:
    """The e-stop input (OS-1: normally closed loop, low = pressed or cable cut)."""

    def __init__(self, machine, config, latch):
        cfg = config.get("estop", {})
        self._active = int(num(cfg, "active", "estop.active", 0, 1, 0))
        self._pin = _input(machine, config, "estop")
        self._latch = latch
        self._on_press = self._press_irq
        trig = machine.Pin.IRQ_FALLING if self._active == 0 else machine.Pin.IRQ_RISING
        self._pin.irq(handler=self._on_press, trigger=trig)

    def _press_irq(self, _pin):
        self._latch.estop_seen = True

    def asserted(self):
        """The input now (no memory of a press)."""
        return self._pin.value() == self._active

    def pressed(self):
        if self._pin.value() == self._active:
            return True
        latch = self._latch
        if latch.estop_seen:  # a press shorter than a tick: reported once, to the first reader
            latch.estop_seen = False
            return True
        return False
