"""``kassel sim evaluate``: three SUMO runs with identical demand, metrics and a report.

Why here and not in ``signal_controller``: the evaluation is an *adapter* around the
controller's pure domain (TraCI/libsumo in, lamp states out), like the Pi's lamp driver.
"""
