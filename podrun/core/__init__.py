"""The pure core: kubelet decisions as plain functions and data.

Nothing here imports os, subprocess, socket or asyncio, and nothing reads the time: callers
pass numbers taken from a podrun.clock.Clock. Every module names the BEHAVIOR.md section it
implements.
"""
