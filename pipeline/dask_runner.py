"""``DaskRunner``: Beam 2.77's Dask runner with the defects that break this pipeline fixed.

    pixel-render run --runner dask --dask_client_address tcp://HOST:8786 --input ... --output ...

Subclasses ``apache_beam.runners.dask.dask_runner.DaskRunner`` (same options: ``--dask_client_address``,
``--dask_scheduler_file``, ``--dask_npartitions`` ...) and replaces only its graph translation of ``ParDo`` and
its choice of what to compute. Each fix names the upstream behaviour it corrects (file:function in
``apache_beam/runners/dask/`` of apache-beam 2.77.0); the minimal reproductions are ``tests/test_dask_runner.py``
and the bug report text is in ``pipeline/README.md``:

(a) Tagged outputs are routed per tag. Upstream, ``dask_runner.py:DaskBagVisitor`` keys its bags by producing
    *transform*, so every consumer of a multi-output ``ParDo`` (main or ``TaggedOutput`` branch) receives the
    same bag, holding every branch's elements. Here bags are keyed by *PCollection*: a ``ParDo``'s bag holds
    ``(tag, value)`` pairs and each output PCollection is that bag filtered to its own tag.
(b) Bundles keep their tags and their ``finish_bundle`` output. Upstream,
    ``transform_evaluator.py:apply_dofn_to_bundle`` returns ``[v.value for v in receivers.values]`` (which strips
    the tag from every ``TaggedOutput``) *before* ``invoke_finish_bundle`` (whose outputs are lost), and its
    receivers are one object created at graph-build time and shared by every partition. Here each bundle makes
    its own receivers and collects after ``finish_bundle``.
(c) Every leaf is computed. Upstream, ``dask_runner.py:run_pipeline`` computes only the last bag the visitor
    made, so a second sink (or any branch not upstream of that bag) silently never runs and the job exits 0.
    Here every PCollection no transform consumes is computed, in one ``client.compute`` of the leaves as built,
    so tasks shared by several leaves run once (the leaves optimised first with ``dask.optimize(*leaves)``, a
    two-output ParDo over 6 elements ran 12 times: ``tests/test_dask_runner.py::test_a_shared_step_runs_once``).

(d) The workers get the job's filesystem options. Upstream nothing on a Dask worker calls
    ``FileSystems.set_options`` (Beam's own SDK harness does, ``sdk_worker_main.py:create_harness``), so Beam's
    ``--s3_*`` flags (endpoint, credentials, region) configure only the launcher's reads and writes, and a worker
    writing shards to ``s3://`` falls back to the SDK's defaults (the real AWS endpoint, whatever credentials its
    environment holds). Here every bundle applies the job's options first (once per worker and job).

(e) ``wait_until_finish(duration)`` returns RUNNING when the duration runs out (upstream raises and marks the
    job FAILED: ``_Result`` below); a live progress display polls with it.
(f) Metrics while the job runs. Upstream runs DoFns with no metrics container (a ``Metrics.counter`` is a no-op on
    a worker) and ``DaskRunnerResult.metrics`` raises ``NotImplementedError``. Here each bundle counts into its own
    ``MetricsContainer``; each worker process adds them to its running totals for the job and sends the totals to
    the scheduler as a Dask event (``Worker.log_event``, one topic per job), which pushes them to the client
    (``Client.subscribe_topic``: a poll costs no round trip); ``_Result.metrics()`` keeps each worker's latest
    totals (by sequence number) and sums them; when the job ends, the topic's events are read once more before
    the client closes. Counts are *attempted* ones, as Beam defines them: a task Dask retries counts twice.

(g) A side input's producers run once. Upstream (``transform_evaluator.py:DaskBagWindowedIterator``) a side input
    is a bag object pickled into the task, which computes it again inside every partition that reads it
    (``list(self.bag)``: a nested compute on the worker). Here the side input's elements are one task whose
    result every partition receives, passed as a ``Delayed``: passed as a ``dask.bag.Item``, Dask gives the
    argument its own copy of everything upstream of it under new keys (``dask/delayed.py:unpack_collections``
    wraps a collection in ``ProhibitReuse``, dask 2026.1), so every step above a side input ran once more per
    side input: the bundled job read each document 6 times and rendered each chunk 5 times (its last step
    reads three side inputs, two sink steps the shard count), and its shards were still byte-identical (the
    sink itself ran once).
(h) A GroupByKey shuffles at most one partition per worker thread, always through tasks. Upstream
    (``transform_evaluator.py:GroupByKey``) calls ``Bag.groupby`` on its input as it comes: after a ``Flatten``
    (``dask.bag.concat``: the partitions of all inputs) that is often many partitions, and Dask's task shuffle
    makes n² split tasks for n <= 32 of them (441 in one of the bundled job's groupings, of 21 partitions); and it
    leaves the method to Dask, whose "disk" shuffle (chosen when no client is the default, or by
    ``dataframe.shuffle.method``) groups through files on each worker's own disk, wrong on several machines.
    Here the input is first repartitioned to the worker-thread count (``--dask_npartitions``), and the shuffle
    is ``tasks``.

Dask unpickles task graphs on the scheduler too: the scheduler's and the workers' Python must import
``pipeline`` (install pixelkit there, or start them with ``PYTHONPATH`` pointing at a checkout).
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
import uuid
from collections import Counter, OrderedDict

from apache_beam import DoFn, pvalue
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.execution import MetricKey, MetricResult, MetricsContainer
from apache_beam.metrics.metric import MetricResults
from apache_beam.metrics.metricbase import MetricName
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.pipeline import PipelineVisitor
from apache_beam.runners.common import DoFnContext, DoFnInvoker, DoFnSignature, Receiver, _OutputHandler
from apache_beam.runners.dask import dask_runner as upstream
from apache_beam.runners.dask.transform_evaluator import (TRANSLATIONS, Flatten, GroupByKey, NoOp, ParDo,
                                                          get_windowed_value)
from apache_beam.runners.worker import statesampler
from apache_beam.utils.counters import CounterFactory
from apache_beam.transforms.sideinputs import SideInputMap
from apache_beam.utils.windowed_value import WindowedValue

from .dask_checks import IdleWatch, idle_note

log = logging.getLogger(__name__)



def _plain(value):
    """What a bag holds: the element itself, as upstream's main output does (global windows only)."""
    return value.value if isinstance(value, WindowedValue) else value


class _Collect(Receiver):
    def __init__(self, tag, out: list):
        self.tag, self.out = tag, out

    def receive(self, windowed_value):
        self.out.append((self.tag, _plain(windowed_value)))


class _Receivers(dict):
    def __init__(self, out: list):
        super().__init__()
        self.out = out

    def __missing__(self, tag):
        self[tag] = _Collect(tag, self.out)
        return self[tag]


_APPLIED: list = [None]  # the filesystem options this worker process last applied (fix (d))


def _filesystem_options(options: dict) -> None:
    """Fix (d): ``FileSystems.set_options`` with the job's options, unless this process already has them (a new
    options object would make ``storage`` build its S3 clients again)."""
    if options != _APPLIED[0]:
        FileSystems.set_options(PipelineOptions.from_dictionary(options))
        _APPLIED[0] = options


TOPIC = "pixelkit-beam-metrics-"  # + the job's id: one Dask event topic per job (fix (f))
_TOTALS: OrderedDict[str, Counter] = OrderedDict()  # job id -> this worker process's counter totals so far
_JOBS_KEPT = 64  # a long-lived worker keeps the totals of its 64 most recent jobs only
_SEQ = itertools.count(1)
_LOCK = threading.Lock()


def _publish(job: str, container: MetricsContainer) -> None:
    """Fix (f): add one bundle's counters to this worker's totals for ``job`` and send the totals."""
    counts = container.get_cumulative().counters
    if not counts:
        return
    try:
        from distributed import get_worker
        worker = get_worker()
    except ValueError:  # not inside a Dask worker task: nobody to tell
        return
    with _LOCK:
        totals = _TOTALS.setdefault(job, Counter())
        _TOTALS.move_to_end(job)
        while len(_TOTALS) > _JOBS_KEPT:
            _TOTALS.popitem(last=False)
        for key, value in counts.items():
            totals[(key.step, key.metric.namespace, key.metric.name)] += int(value)
        msg = {"worker": worker.address, "seq": next(_SEQ), "totals": [[*k, v] for k, v in totals.items()]}
    worker.log_event(TOPIC + job, msg)


def _bundle(items, dofn, label, window_fn, args, kwargs, side_specs, fs_options, job, *side_values) -> list:
    """Fix (b): one bundle (= one Dask partition) through the DoFn; ``(tag, element)`` pairs, tagged outputs
    and ``finish_bundle``'s output included. ``side_values[i]`` is side input i's full list of elements.
    ``fs_options``: the job's options as a dict, applied to ``FileSystems`` first (fix (d)); the bundle's
    counters go to ``job``'s totals (fix (f))."""
    _filesystem_options(fs_options)
    container = MetricsContainer(label)
    sampler = statesampler.StateSampler(label, CounterFactory())
    statesampler.set_current_tracker(sampler)  # per thread: what Metrics.counter(...).inc() looks up
    try:
        with sampler.scoped_state(label, "process", metrics_container=container):
            out = _run_bundle(items, dofn, label, window_fn, args, kwargs, side_specs, side_values)
    finally:
        statesampler.set_current_tracker(None)
    _publish(job, container)
    return out


def _run_bundle(items, dofn, label, window_fn, args, kwargs, side_specs, side_values) -> list:
    out: list = []
    receivers = _Receivers(out)
    side_inputs = [SideInputMap(view_type, view_options, [get_windowed_value(v, window_fn) for v in values])
                   for (view_type, view_options, window_fn), values in zip(side_specs, side_values)]
    handler = _OutputHandler(window_fn=window_fn, main_receivers=receivers[None], tagged_receivers=receivers,
                             per_element_output_counter=None, output_batch_converter=None,
                             process_yields_batches=False, process_batch_yields_elements=False)
    invoker = DoFnInvoker.create_invoker(
        DoFnSignature(dofn), handler, context=DoFnContext(label, state=None), side_inputs=side_inputs,
        input_args=list(args), input_kwargs=kwargs, user_state_context=None,
        bundle_finalizer_param=DoFn.BundleFinalizerParam())
    invoker.invoke_setup()
    invoker.invoke_start_bundle()
    for item in items:
        invoker.invoke_process(get_windowed_value(item, window_fn))
    invoker.invoke_finish_bundle()
    invoker.invoke_teardown()
    return out


def _concat(parts) -> list:
    return list(itertools.chain.from_iterable(parts))


def _whole(bag):
    """A bag's elements as one task that tasks can depend on, as a ``Delayed`` (fix (g)): Dask copies the graph of
    an ``Item`` argument under new keys (``dask/delayed.py:unpack_collections`` wraps it in ``ProhibitReuse``), so
    each side input recomputed every step upstream of it; a ``Delayed`` argument is referenced by its key."""
    return bag.reduction(list, _concat, split_every=False).to_delayed(optimize_graph=False)


def _select(pair, tag) -> bool:
    return pair[0] == tag


def _second(pair):
    return pair[1]


def _count(part) -> list[int]:
    return [sum(1 for _ in part)]


def _key(pair):
    return pair[0]


def _grouped(group) -> tuple:
    key, pairs = group
    return key, [_plain(value) for _, value in pairs]


def _group_by_key(bag, npartitions: int | None):
    """Fix (h): Beam's GroupByKey as a task shuffle over at most ``npartitions`` partitions."""
    if npartitions and bag.npartitions > npartitions:
        bag = bag.repartition(npartitions)
    return bag.groupby(_key, shuffle="tasks").map(_grouped)


class _Visitor(PipelineVisitor):
    """Fix (a): one bag per PCollection (not per transform)."""

    def __init__(self, bag_kwargs: dict, fs_options: dict, job: str):
        self.bag_kwargs, self.fs_options, self.job = bag_kwargs, fs_options, job
        self.bags: dict = {}  # PCollection -> dask bag (None for PBegin)
        self.consumed: set = set()
        self.outputs: list = []

    def visit_transform(self, node) -> None:
        inputs = []
        for value in node.inputs:
            if not isinstance(value, pvalue.PBegin):
                self.consumed.add(value)
                inputs.append(self.bags.get(value))
        for si in node.side_inputs:
            self.consumed.add(si.pvalue)
        op_class = TRANSLATIONS.get(node.transform.__class__, NoOp)  # exact class, as upstream (a ParDo subclass
        if op_class is ParDo:  # such as the GroupByKey's _GroupAlsoByWindow is a no-op there, and here)
            bag = self._pardo(node, inputs[0])
            for tag, pcoll in node.outputs.items():
                self._add(pcoll, bag.filter(functools.partial(_select, tag=pcoll.tag)).map(_second))
            return
        op = op_class(node, bag_kwargs=self.bag_kwargs)
        if isinstance(op, Flatten):
            bag = op.apply(inputs)
        elif isinstance(op, GroupByKey):
            bag = _group_by_key(inputs[0], self.bag_kwargs.get("npartitions"))
        else:
            bag = op.apply(inputs[0] if inputs else None)
        for pcoll in node.outputs.values():
            self._add(pcoll, bag)

    def _add(self, pcoll, bag) -> None:
        self.bags[pcoll] = bag
        self.outputs.append(pcoll)

    def _pardo(self, node, input_bag):
        transform = node.transform
        args, kwargs = transform.raw_side_inputs
        main = next(iter(node.main_inputs.values()))
        window_fn = main.windowing.windowfn if hasattr(main, "windowing") else None
        specs, items = [], []
        for si in node.side_inputs:
            specs.append((type(si), si._view_options(), si._window_mapping_fn))
            items.append(_whole(self.bags[si.pvalue]))
        return input_bag.map_partitions(_bundle, transform.fn, transform.label, window_fn, tuple(args), kwargs,
                                        tuple(specs), self.fs_options, self.job, *items)


class DaskRunner(upstream.DaskRunner):
    """Beam's DaskRunner with fixes (a) to (h) (see the module docstring)."""

    def run_pipeline(self, pipeline, options):
        import dask.distributed as ddist

        dask_options = options.view_as(upstream.DaskOptions).get_all_options(drop_default=True, current_only=True)
        bag_kwargs = upstream.DaskOptions._extract_bag_kwargs(dask_options)
        client = ddist.Client(**dask_options)
        if note := idle_note(client):
            log.warning("%s%s", note, "" if bag_kwargs else " (the input files go to one partition, read by one worker: "
                        "--dask_npartitions N spreads them over N)")
        if not bag_kwargs:  # upstream puts up to 128 created elements (here: input files) in one partition, so a
            # few files would all be read by one worker; one partition per worker thread instead (now connected)
            bag_kwargs["npartitions"] = max(1, sum(client.nthreads().values()))
        pipeline.replace_all(upstream.dask_overrides())
        job = uuid.uuid4().hex
        visitor = _Visitor(bag_kwargs, options.get_all_options(drop_default=True), job)
        pipeline.visit(visitor)
        # Fix (c): compute every leaf, not only the last bag made (upstream dask_runner.py:run_pipeline). Only
        # per-partition counts travel back to the client; tasks shared by several leaves run once.
        leaves, seen = [], set()
        for pcoll in visitor.outputs:
            bag = visitor.bags[pcoll]
            if pcoll not in visitor.consumed and bag is not None and bag.name not in seen:
                seen.add(bag.name)
                leaves.append(bag.map_partitions(_count))
        log.info("dask: computing %d leaf collection(s) on %s", len(leaves), client)
        # Computed as built, in one call: optimised first with dask.optimize(*leaves), a two-output ParDo ran once
        # per branch (seen through fix (f)'s counters: 12 reads of 6 elements).
        latest = _Latest()
        client.subscribe_topic(TOPIC + job, latest.take)  # fix (f): before the graph, so no event goes unseen
        futures = client.compute(leaves, optimize_graph=False)
        return _Result(client, futures, job, latest)


class _Counters(MetricResults):
    """The counters of fix (f) as Beam's ``MetricResults`` (attempted = committed: what the workers reported)."""

    def __init__(self, totals: Counter):
        self._results = [MetricResult(MetricKey(step, MetricName(ns, name)), v, v)
                         for (step, ns, name), v in sorted(totals.items())]

    def query(self, filter=None) -> dict:
        counters = [r for r in self._results if self.matches(filter, r.key)]
        return {self.COUNTERS: counters, self.DISTRIBUTIONS: [], self.GAUGES: [], self.STRINGSETS: [],
                self.BOUNDED_TRIES: [], self.HISTOGRAMS: []}


class _Latest:
    """Fix (f): each worker's newest totals message of one job (by sequence number: events can arrive twice, from
    the subscription and from the final read, and the scheduler keeps only a topic's newest events)."""

    def __init__(self):
        self._by_worker: dict[str, dict] = {}
        self._lock = threading.Lock()  # take() runs on the client's event loop thread, totals() on the caller's

    def take(self, event) -> None:
        _, msg = event
        with self._lock:
            if msg["seq"] > self._by_worker.get(msg["worker"], {"seq": 0})["seq"]:
                self._by_worker[msg["worker"]] = msg

    def totals(self) -> Counter:
        with self._lock:
            msgs = list(self._by_worker.values())
        out: Counter = Counter()
        for msg in msgs:
            for step, ns, name, value in msg["totals"]:
                out[(step, ns, name)] += value
        return out


class _Result(upstream.DaskRunnerResult):
    def __init__(self, client, futures, job: str, latest: _Latest):
        super().__init__(client, futures)
        self._job, self._latest, self._idle = job, latest, IdleWatch(client)

    def _refresh(self) -> None:
        """Fix (f): read all of the job's events from the scheduler once more (while the client is open): the
        subscription delivers them as they come, this makes sure none is missing at the end."""
        if self.client.status == "running":
            for event in self.client.get_events(TOPIC + self._job):
                self._latest.take(event)

    def metrics(self) -> MetricResults:
        """The counters so far (pushed to the client as workers report them) or, once finished, the final ones."""
        return _Counters(self._latest.totals())

    def wait_until_finish(self, duration=None) -> str:
        """Upstream's, then the client is closed (upstream leaves it connected). Fix (e): a ``duration`` (ms) that
        runs out returns the state, RUNNING, as ``PipelineResult`` documents; upstream lets ``as_completed``'s
        ``TimeoutError`` out and marks the job FAILED (``dask_runner.py:DaskRunnerResult.wait_until_finish``), so
        a caller polling for progress (``pixel-render``'s live display) failed every job longer than one poll.
        Once finished, it returns the final state again (a poller's last call)."""
        import dask.distributed as ddist

        if self.state in ("DONE", "FAILED"):  # finished earlier and the client is closed: nothing to wait for
            return self.state
        while self.state == "RUNNING":  # a scheduler without workers is named every minute while the job waits
            try:
                ddist.wait(self.futures, timeout=duration / 1000 if duration is not None else self._idle.every)
                break
            except TimeoutError:  # distributed's wait raises the builtin TimeoutError
                self._idle.poll()
                if duration is not None:
                    return self.state
        try:
            return super().wait_until_finish()
        finally:
            if self.state in ("DONE", "FAILED"):
                self._refresh()  # the last counts, before the client goes
                self.client.close()
