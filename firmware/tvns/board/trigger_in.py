# A trigger input on a plain GPIO (docs/GATING.md), for boards whose pulse engine does not
# follow the input itself (ESP32: the control tick reads it, a millisecond path). The pull
# follows the protocol's polarity: towards the inactive level, so an open input never
# triggers. level() runs in the tick: one pin read.


class PinTrigger:
    def __init__(self, machine, gpio_num):
        self._machine = machine
        self._gpio = gpio_num
        self._pin = machine.Pin(gpio_num, machine.Pin.IN, machine.Pin.PULL_DOWN)

    def set_active(self, active):
        """The protocol's active level (main loop, at load): pulled to the other one."""
        Pin = self._machine.Pin
        self._pin = Pin(self._gpio, Pin.IN, Pin.PULL_DOWN if active else Pin.PULL_UP)

    def level(self):
        return self._pin.value()
