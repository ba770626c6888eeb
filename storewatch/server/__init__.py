"""The appliance's HTTP face: Starlette routes, device and admin auth, the one error shape."""

from starlette.convertors import IntegerConvertor, register_url_convertor


class _Int64Convertor(IntegerConvertor):
    """Starlette's `int` path convertor, bounded to what SQLite can store.

    The stock one turns any run of digits into a Python int, and binding one over 2^63 in a
    query raises OverflowError (a 500). At most 18 digits never overflows, and a longer
    number cannot be an id here anyway: such a path is simply not found (404).
    """

    regex = "[0-9]{1,18}"


# Registered here, before any route module builds its Route objects (they compile their
# path patterns when constructed).
register_url_convertor("int", _Int64Convertor())
