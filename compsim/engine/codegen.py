"""Generates, caches and loads the compiled chunk loop of a network.

The loop over steps of a whole chunk runs inside one Numba function written
for the network's *structure* (which models, projections and monitors, in
which order); sizes, parameters, weights, seeds and buffers are arguments, so
the same structure reuses the compiled code across seeds, sizes and runs.
The generated module is written once to a cache directory
(``$COMPSIM_CACHE_DIR``, default ``~/.cache/compsim``) under a name derived
from a hash of its text, and compiled with ``cache=True``: a second process
loads the machine code from disk instead of compiling.

Per step (``step``, time ``t = step * dt``), the generated code runs::

    1. sources      Poisson draws / replayed spikes of step t
    2. populations  one fused loop per population over its neurons:
                    gather synaptic inputs (traces + arrivals due at t),
                    decay the traces, derive dendritic potentials,
                    record state monitors (state at t), update the state
                    over [t, t + dt] and threshold / draw spikes
    3. spikes       compact spike counts to index lists; stop on a non-finite state
    4. delivery     each projection adds the weights of this step's spikes to its
                    ring buffer, due at step t + 1 + delay
    5. monitors     spike and rate monitors append this step's spikes
"""
import hashlib
import importlib.util
import os
import sys
from pathlib import Path

from ..monitors import PORT, AverageMonitor, RateMonitor, SpikeMonitor, StateMonitor

ERR_NONE, ERR_BUFFER, ERR_NONFINITE = 0, 1, 2


def cache_dir():
    """Directory holding generated modules and Numba's cache of their machine code."""
    return Path(os.environ.get("COMPSIM_CACHE_DIR", Path.home() / ".cache" / "compsim")) / "kernels"


class _Source:
    def __init__(self):
        self.lines = []
        self.imports = {}
        self.args = []  # (name, getter)

    def arg(self, name, getter):
        self.args.append((name, getter))
        return name

    def kernel(self, ref, alias):
        module, func = ref.split(":")
        self.imports[alias] = f"from {module} import {func} as {alias}"
        return alias

    def emit(self, indent, text):
        self.lines.append("    " * indent + text)

    @property
    def names(self):
        return [name for name, _ in self.args]

    def function_text(self, name):
        """This source as a compiled function ``name(step, s, dt, key, *arrays)``."""
        parallel = any("prange(" in line for line in self.lines)
        head = [f"@njit(cache=True, parallel={bool(parallel)}, nogil=True)",
                f"def {name}(step, s, dt, key, {', '.join(self.names)}):"]
        return "\n".join(head + self.lines)


def _population_step(network, p, incoming, parallel, main):
    """The function advancing population ``p`` by one step; returns ``(n_spiking, n_spikes, bad)``.

    Array arguments are registered both in the function (``sub``) and in the
    main chunk function (``main``), which passes them through.
    """
    sub = _Source()
    sub.imports = main.imports

    def arg(name, getter):
        if name not in main.names:
            main.arg(name, getter)
        return sub.arg(name, getter)

    loop = "prange" if parallel else "range"
    k = p.index
    cnt = arg(f"p{k}_cnt", lambda p=p: p.cnt)
    spk = arg(f"p{k}_spk", lambda p=p: p.spk)
    if p.kind == "poisson_source":
        rates = arg(f"p{k}_rates", lambda p=p: p.rate_buf)
        sub.emit(1, f"row = s if {rates}.shape[0] > 1 else 0")
        sub.emit(1, f"for i in {loop}({cnt}.shape[0]):")
        sub.emit(2, f"{cnt}[i] = draw_spikes({rates}[row, i] * dt * 1e-3, {p.mode_code}, key, i, step)")
    elif p.kind == "spike_train_source":
        a = [arg(f"p{k}_{n}", lambda p=p, n=n: getattr(p, n)) for n in ("sp_step", "sp_idx", "ptr")]
        sub.emit(1, f"replay_spikes(step, {a[0]}, {a[1]}, {a[2]}, {cnt})")
    else:
        _model_loop(network, p, incoming, loop, sub, arg)
    sub.emit(1, f"return compact_spikes({cnt}, {spk})")
    return sub


def _model_loop(network, p, incoming, loop, sub, arg):
    """Emit the fused loop over the neurons of model population ``p`` into ``sub``."""
    k = p.index
    cnt = f"p{k}_cnt"
    st = arg(f"p{k}_st", lambda p=p: p.state)
    par = arg(f"p{k}_par", lambda p=p: p.par)
    derive_ref, update_ref = p.kernels(network.method)
    roles = [v.role for v in p.state_vars]
    values = [f"s{r}" for r in range(len(roles))]
    inputs = [f"x{q}" for q in range(len(p.ports))]
    body = [f"{v} = {st}[{r}, i]" for r, v in enumerate(values) if roles[r] != "derived"]
    body += [f"{x} = 0.0" for q, x in enumerate(inputs) if not any(j.port_index == q for j in incoming)]
    epilogue = []
    # constants are read into locals before the loop: they stay in registers
    sub.emit(1, f"const = ({', '.join(f'{par}[{n}]' for n in range(len(p.par)))},)")
    for j in incoming:
        r = j.index
        tr = arg(f"r{r}_tr", lambda j=j: j.trace)
        ring = arg(f"r{r}_ring", lambda j=j: j.ring)
        fp = arg(f"r{r}_fp", lambda j=j: j.fpar)
        sub.emit(1, f"d{r} = ({', '.join(f'{fp}[{t}]' for t in range(len(j.fpar)))},)")
        if _uses_ring(j):  # jumps wait in the ring buffer until due
            sub.emit(1, f"slot{r} = step % {ring}.shape[0]")
            body += [f"x = {ring}[slot{r}, i]", f"{ring}[slot{r}, i] = 0.0", f"a = {tr}[0, i] + x"]
        else:  # zero delay: jumps were added to the traces directly
            body += ["x = 0.0", f"a = {tr}[0, i]"]
        body.append(f"{tr}[0, i] = a * d{r}[0]")
        if j.synapse.n_traces == 2:
            body += [f"b = {tr}[1, i] + x", f"{tr}[1, i] = b * d{r}[1]", f"a = d{r}[2] * (a - b)"]
        first = j is next(q for q in incoming if q.port_index == j.port_index)
        body.append(f"x{j.port_index} {'=' if first else '+='} a")
    derived = [v for r, v in enumerate(values) if roles[r] == "derived"]
    if derive_ref:
        derive = sub.kernel(derive_ref, f"derive{k}")
        given = [v for r, v in enumerate(values) if roles[r] != "derived"]
        body.append(f"{', '.join(derived)}, = {derive}(const, {', '.join(given + inputs)})")
        body += [f"{st}[{values.index(v)}, i] = {v}" for v in derived]
    for m in (m for m in network.monitors if m.population is p):
        tag = f"m{m.index}"
        sample = [inputs[row] if kind == PORT else values[row] for kind, row in getattr(m, "rows", ())]
        if isinstance(m, StateMonitor):
            ctl = arg(f"{tag}_ctl", lambda m=m: m.ctl)
            col = arg(f"{tag}_col", lambda m=m: m.col)
            buf = arg(f"{tag}_buf", lambda m=m: m.buf)
            tbuf = arg(f"{tag}_tbuf", lambda m=m: m.tbuf)
            sub.emit(1, f"rec_{tag} = step % {ctl}[1] == 0")
            sub.emit(1, f"pos_{tag} = {ctl}[0]")
            body += [f"if rec_{tag}:", f"    c = {col}[i]", "    if c >= 0:"]
            body += [f"        {buf}[pos_{tag}, {v}, c] = {x}" for v, x in enumerate(sample)]
            epilogue += [f"if rec_{tag}:", f"    {tbuf}[pos_{tag}] = step", f"    {ctl}[0] = pos_{tag} + 1"]
        elif isinstance(m, AverageMonitor):
            sums = arg(f"{tag}_sums", lambda m=m: m.sums)
            actl = arg(f"{tag}_ctl", lambda m=m: m.ctl)
            body += [f"{sums}[{v}, i] += {x}" for v, x in enumerate(sample)]
            epilogue.append(f"{actl}[0] += 1")
    update = sub.kernel(update_ref, f"update{k}")
    evolved = [v for r, v in enumerate(values) if roles[r] == "state"]
    body.append(f"{', '.join(evolved + ['c'])} = {update}(i, step, key, const, {', '.join(values + inputs)})")
    body += [f"{st}[{values.index(v)}, i] = {v}" for v in evolved]
    body.append(f"{cnt}[i] = c")
    sub.emit(1, f"for i in {loop}({st}.shape[1]):")
    for line in body:
        sub.emit(2, line)
    for line in epilogue:
        sub.emit(1, line)


def generate(network, parallel):
    """Source text of ``run_chunk`` for ``network`` and the getters of its array arguments.

    ``parallel``: the set of indices of the populations whose neuron loop is
    multi-threaded. Each population's per-step work is a function of its own
    (``step_pop<k>``): a loop over its neurons (``prange`` if parallel) followed by the
    serial collection of its spikes. Keeping these loops in small functions
    lets LLVM optimise each one in isolation (it vectorises and keeps
    constants in registers far better than inside one large loop nest).
    """
    src = _Source()
    functions = []
    pops, projs, mons = network.populations, network.projections, network.monitors
    incoming = {p.index: [j for j in projs if j.post is p] for p in pops}
    I = 2  # indentation inside the step loop

    src.emit(I, "step = step0 + s")
    src.emit(I, "stop = False")
    # 1 + 2: sources and populations, each in its own function
    for p in pops:
        k = p.index
        sub = _population_step(network, p, incoming[k], k in parallel, src)
        functions.append(sub.function_text(f"step_pop{k}"))
        src.emit(I, f"# population {k}: {p.name} ({type(p).__name__})")
        src.emit(I, f"nsp{k}, tot{k}, bad = step_pop{k}(step, s, dt, keys[{k}], {', '.join(sub.names)})")
        if p.kind == "model":
            src.emit(I, "if bad >= 0:")
            for line in _divergence(k, "bad"):
                src.emit(I + 1, line)
    # 4: delivery
    for j in projs:
        r, q = j.index, j.pre.index
        target = f"r{r}_ring[step % r{r}_ring.shape[0]]" if _uses_ring(j) else f"r{r}_tr[0]"
        if j.kind == "dense":
            wt = src.arg(f"r{r}_wt", lambda j=j: j.wt)
            cf = src.arg(f"r{r}_cntf", lambda j=j: j.cnt_f)
            do = src.arg(f"r{r}_dot", lambda j=j: j.dot_out)
            src.emit(I, f"deliver_dense(p{q}_spk, nsp{q}, p{q}_cnt, {wt}, {cf}, {do}, {target})")
        else:
            a = [src.arg(f"r{r}_{n}", lambda j=j, n=n: getattr(j, n)) for n in ("indptr", "indices", "w")]
            src.emit(I, f"deliver_sparse(p{q}_spk, nsp{q}, p{q}_cnt, {a[0]}, {a[1]}, {a[2]}, {target})")
    # 5: spike and rate monitors
    for m in mons:
        k = m.population.index
        tag = f"m{m.index}"
        if isinstance(m, SpikeMonitor):
            ctl = src.arg(f"{tag}_ctl", lambda m=m: m.ctl)
            bufs = [src.arg(f"{tag}_{n}", lambda m=m, n=n: getattr(m, n)) for n in ("buf_step", "buf_idx", "buf_cnt")]
            src.emit(I, f"{ctl}[0] = record_spikes(step, p{k}_spk, nsp{k}, p{k}_cnt, {', '.join(bufs)}, {ctl}[0])")
            src.emit(I, f"if {ctl}[0] > {ctl}[1] - p{k}_cnt.shape[0]:")
            src.emit(I + 1, "stop = True")
        elif isinstance(m, RateMonitor):
            ctl = src.arg(f"{tag}_ctl", lambda m=m: m.ctl)
            buf = src.arg(f"{tag}_buf", lambda m=m: m.buf)
            tbuf = src.arg(f"{tag}_tbuf", lambda m=m: m.tbuf)
            src.emit(I, f"{buf}[{ctl}[0]] = tot{k}")
            src.emit(I, f"{tbuf}[{ctl}[0]] = step")
            src.emit(I, f"{ctl}[0] += 1")
    src.emit(I, "if stop or ctrl[1] != 0:")
    src.emit(I + 1, "if ctrl[1] == 0:")
    src.emit(I + 2, f"ctrl[1] = {ERR_BUFFER}")
    src.emit(I + 1, "ctrl[0] = s + 1")
    src.emit(I + 1, "return")

    names = ", ".join(name for name, _ in src.args)
    header = [
        '"""Chunk loop generated by compsim.engine.codegen; do not edit."""',
        "from numba import njit, prange  # noqa: F401",
        "from compsim.engine.kernels import compact_spikes, deliver_dense, deliver_sparse, record_spikes, replay_spikes  # noqa: F401",
        "from compsim.rng import draw_spikes  # noqa: F401",
        *sorted(src.imports.values()),
        "",
        "",
        *[text + "\n\n" for text in functions],
        "@njit(cache=True, nogil=True)",
        f"def run_chunk(n_steps, step0, dt, ctrl, keys, {names}):",
        "    ctrl[1] = 0",
        "    for s in range(n_steps):",
    ]
    footer = ["    ctrl[0] = n_steps", ""]
    text = "\n".join(header + src.lines + footer)
    return text, [g for _, g in src.args]


def _uses_ring(projection):
    """Whether spikes go through the ring buffer rather than straight into the trace.

    Needed for delays; also used by two-trace kernels, so that a spike is
    delivered once (into the ring) instead of once per trace.
    """
    return projection.delay_steps > 0 or projection.synapse.n_traces > 1


def _divergence(k, neuron):
    """Lines recording that neuron ``neuron`` of population ``k`` diverged (the first report wins)."""
    return [f"if ctrl[1] != {ERR_NONFINITE}:", f"    ctrl[1] = {ERR_NONFINITE}", f"    ctrl[2] = {k}",
            f"    ctrl[3] = {neuron}", "    ctrl[4] = step"]


def _dependency_sources(text):
    """Source of every module (compsim's or a user's model) the generated text imports from.

    Numba's cache of a function is not invalidated when a function it calls
    changes, so the kernels' sources are part of the generated module's name.
    """
    parts = []
    for line in text.splitlines():
        if line.startswith("from ") and " import " in line and not line.startswith("from numba "):
            module = importlib.import_module(line.split()[1])
            if getattr(module, "__file__", None):
                parts.append(Path(module.__file__).read_bytes())
    return b"".join(parts)


def load(text):
    """Write ``text`` to the cache (once) and import its ``run_chunk``."""
    digest = hashlib.sha1(text.encode() + _dependency_sources(text)).hexdigest()[:16]
    name = f"compsim_chunk_{digest}"
    if name in sys.modules:
        return sys.modules[name].run_chunk
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.py"
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module.run_chunk
