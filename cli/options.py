"""Options shared by every batch command, declared once."""

from __future__ import annotations

import functools
from pathlib import Path

import click

from . import files

BACKENDS = ("auto", "cpu", "cuda")


def batch_options(f):
    """INPUT... OUTPUT and the options every batch command takes."""
    decorators = [
        click.argument("paths", nargs=-1, required=True,
                       type=click.Path(path_type=Path)),
        click.option("-r", "--recursive", is_flag=True,
                     help="Descend into input folders, keeping relative paths."),
        click.option("--glob", metavar="PATTERN",
                     help="Choose files by name pattern instead of by extension."),
        click.option("--format", "fmt", type=click.Choice(sorted(files.FORMATS)),
                     help="Output format (default: each input's own). 16-bit data goes "
                          "to 8-bit-only formats rounded (x/257); float data in [0, 1] "
                          "to the deepest integer (others fail); JPEG drops alpha."),
        click.option("--overwrite", is_flag=True, help="Replace existing outputs."),
        click.option("--skip-existing", is_flag=True, help="Leave existing outputs alone."),
        click.option("--backend", type=click.Choice(BACKENDS), default="auto",
                     show_default=True, help="Compute backend."),
        click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
                     help="Threads reading and writing files, overlapped with compute "
                          "(in one process: --processes 1, a cold cache, or CUDA)."),
        click.option("--processes", type=click.IntRange(0, 256), default=0,
                     show_default=True,
                     help="Worker processes, each reading, processing and writing whole "
                          "files with its share of the cores (0: one per core, at most "
                          "one per 4 GiB of memory). The first run, while kernels "
                          "compile, and CUDA use one process."),
        click.option("--scheduler", metavar="ADDRESS",
                     help="Run the batch on the Dask cluster at ADDRESS (tcp://host:port); "
                          "its workers read and write INPUT and OUTPUT at the same paths."),
        click.option("--tile-above", type=click.IntRange(1), default=2**27,
                     show_default=True, metavar="PIXELS",
                     help="TIFFs with more pixels are processed tile by tile and written "
                          "as tiled BigTIFF (a .zarr INPUT always is chunk by chunk)."),
        click.option("--log", type=click.Path(dir_okay=False, path_type=Path),
                     metavar="FILE",
                     help="Append one JSON object per input to FILE (a line each: time, "
                          "command, source, output, status ok|failed|skipped, seconds, "
                          "error), for auditing and resuming batches."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary."),
    ]
    for d in reversed(decorators):
        f = d(f)

    @functools.wraps(f)
    def wrapper(paths, **kw):
        if len(paths) < 2:
            raise click.UsageError("give at least one INPUT and an OUTPUT folder")
        return f(inputs=list(paths[:-1]), output=paths[-1], **kw)

    return wrapper


def positive(name):
    def check(ctx, param, value):
        if value is not None and value <= 0:
            raise click.BadParameter(f"{name} must be > 0")
        return value
    return check
