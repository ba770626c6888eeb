"""Pure image analysis: decode, score, track and judge shelf interactions.

Everything here works on numpy arrays and capture timestamps passed in as float
seconds; nothing touches the database, the file system or the wall clock, so the
whole package can be replayed, tested and benchmarked offline.
"""
