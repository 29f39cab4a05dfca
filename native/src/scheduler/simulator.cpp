// The virtual-time simulator and the capacity search on top of it.
//
// Event-driven: between two events (an arrival, a load's read ending, a load ending, a step
// ending) nothing changes rate, so the loop jumps from one to the next on a VirtualClock. A
// decode step is a quantity of work (its time alone); while unpacks run beside it, it
// progresses slower, and its end is recomputed at every event. The scheduler is the real one;
// the simulator only plays the engine's loop around it. This file must never read a clock of
// the machine: results would then depend on the machine running the simulation.
#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <stdexcept>
#include <string>

#include "infeng/scheduler.h"

namespace infeng::sched {

namespace {

[[noreturn]] void bad(const std::string& where, const std::string& option, const std::string& why) {
  throw std::invalid_argument(where + " option " + option + ": " + why);
}

void check_coef(double v, const char* name) {
  if (!(v >= 0) || !std::isfinite(v))
    bad("cost model", name, "must be a finite non-negative number (got " + std::to_string(v) + ")");
}

double nonneg(double v, const char* what) {
  if (!(v >= 0) || !std::isfinite(v))
    throw std::invalid_argument(std::string("cost model: ") + what + " returned " + std::to_string(v));
  return v;
}

std::int64_t to_ns(double s) {
  // Every activity lasts at least 1 ns, so the event loop always moves forward.
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(s * 1e9)));
}

// Nearest-rank percentile (NaN when empty).
double percentile(std::vector<double> v, double p) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

double ms(std::int64_t ns) { return static_cast<double>(ns) * 1e-6; }

}  // namespace

void VirtualClock::advance_to(std::int64_t t_ns) {
  if (t_ns < now_ns_)
    throw std::logic_error("virtual clock: " + std::to_string(t_ns) + " ns is before " + std::to_string(now_ns_));
  now_ns_ = t_ns;
}

double CostModel::attention_s(const StepShape& s) const {
  if (s.tokens <= 0 || s.context_tokens <= 0) return 0;
  const double mean = static_cast<double>(s.context_tokens) / s.tokens;
  if (attention) return s.tokens * nonneg(attention(mean, s.threads), "attention");
  const double t = std::max(1, s.threads);
  return step_per_context_token_s * static_cast<double>(s.context_tokens) * (1.0 + serial_fraction * (t - 1.0)) / t;
}

double CostModel::decode_step_s(const StepShape& s) const {
  if (decode_step) return nonneg(decode_step(s), "decode_step") + attention_s(s);
  const double one = step_fixed_s + step_per_token_s * s.tokens +
                     step_per_adapter_rank_s * s.adapters * s.rank +
                     step_per_token_rank_s * s.tokens * s.rank;
  const double t = std::max(1, s.threads);
  return one * (1.0 + serial_fraction * (t - 1.0)) / t + attention_s(s);
}

double CostModel::prefill_s(int prompt_tokens, int threads) const {
  if (prefill) return nonneg(prefill(prompt_tokens, threads), "prefill");
  const double t = std::max(1, threads);
  return prefill_per_token_s * prompt_tokens * (1.0 + serial_fraction * (t - 1.0)) / t;
}

double CostModel::load_read_s(int rank) const {
  if (load_read) return nonneg(load_read(rank), "load_read");
  return load_fixed_s + load_read_per_rank_s * rank;
}

double CostModel::load_unpack_s(int rank) const {
  if (load_unpack) return nonneg(load_unpack(rank), "load_unpack");
  return load_unpack_per_rank_s * rank;
}

void validate(const CostModel& c) {
  check_coef(c.step_fixed_s, "step_fixed_s");
  check_coef(c.step_per_token_s, "step_per_token_s");
  check_coef(c.step_per_adapter_rank_s, "step_per_adapter_rank_s");
  check_coef(c.step_per_token_rank_s, "step_per_token_rank_s");
  check_coef(c.step_per_context_token_s, "step_per_context_token_s");
  check_coef(c.prefill_per_token_s, "prefill_per_token_s");
  check_coef(c.load_fixed_s, "load_fixed_s");
  check_coef(c.load_read_per_rank_s, "load_read_per_rank_s");
  check_coef(c.load_unpack_per_rank_s, "load_unpack_per_rank_s");
  if (!(c.serial_fraction >= 0 && c.serial_fraction <= 1))
    bad("cost model", "serial_fraction", "must be in [0, 1] (got " + std::to_string(c.serial_fraction) + ")");
  if (!(c.unpack_slowdown >= 1) || !std::isfinite(c.unpack_slowdown))
    bad("cost model", "unpack_slowdown", "must be a finite factor >= 1 (got " + std::to_string(c.unpack_slowdown) + ")");
  if (!(c.load_slowdown >= 1) || !std::isfinite(c.load_slowdown))
    bad("cost model", "load_slowdown", "must be a finite factor >= 1 (got " + std::to_string(c.load_slowdown) + ")");
}

void validate(const SimConfig& c) {
  if (c.decode_threads < 1)
    bad("simulator", "decode_threads", "must be >= 1 (got " + std::to_string(c.decode_threads) + ")");
  if (c.adapter_threads < 1)
    bad("simulator", "adapter_threads", "must be >= 1 (got " + std::to_string(c.adapter_threads) + ")");
  if (c.storage_lanes < 0)
    bad("simulator", "storage_lanes", "must be >= 0 (got " + std::to_string(c.storage_lanes) + ")");
}

SimResult simulate(const Trace& trace, const SchedulerConfig& sched_cfg, const CostModel& cost,
                   const SimConfig& sim, const SimHooks& hooks) {
  validate(cost);
  validate(sim);
  validate(sched_cfg);
  const int n_adapters = trace.num_adapters;
  if (n_adapters < 1 || static_cast<int>(trace.adapter_rank.size()) != n_adapters)
    throw std::invalid_argument("trace: num_adapters must be >= 1 with one rank per adapter");
  for (int r : trace.adapter_rank)
    if (r < 1) throw std::invalid_argument("trace: adapter rank must be >= 1 (got " + std::to_string(r) + ")");
  const auto& reqs = trace.requests;
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    if (reqs[i].id != static_cast<int>(i))
      throw std::invalid_argument("trace: request ids must be 0..n-1 in arrival order");
    if (i > 0 && reqs[i].arrival_ns < reqs[i - 1].arrival_ns)
      throw std::invalid_argument("trace: arrivals must not go back in time");
  }

  std::vector<double> reload(n_adapters);
  for (int a = 0; a < n_adapters; ++a) reload[a] = cost.load_s(trace.adapter_rank[a]);
  Scheduler sched(sched_cfg, reload);
  VirtualClock clock;
  auto emit = [&](SimEventKind k, int id) {
    if (hooks.on_event) hooks.on_event(SimEvent{k, clock.now_ns(), id});
  };

  struct Load {
    int adapter;
    std::int64_t issue_ns, read_end_ns = 0, end_ns = 0;
  };
  std::deque<Load> waiting;
  std::vector<Load> active;
  std::vector<std::int64_t> storage_free(static_cast<std::size_t>(sim.storage_lanes), 0);
  std::vector<int> generated(reqs.size(), 0);  // tokens so far: a request's context grows

  SimResult res;
  res.requests = static_cast<int>(reqs.size());
  res.timings.resize(reqs.size());
  res.adapter_worst_wait_ms.assign(n_adapters, 0.0);
  std::vector<char> loaded_before(n_adapters, 0);
  std::vector<double> load_ms, reload_ms;

  bool running = false, pending = false;
  StepPlan plan;
  double remaining_s = 0;  // work left in the running step, in seconds at full speed
  std::int64_t finish_ns = 0;
  std::int64_t decode_busy = 0, load_busy = 0, overlap = 0, uses = 0, tokens = 0;
  std::size_t next_arrival = 0;
  int done = 0;

  auto unpacking = [&] {
    int n = 0;
    for (const auto& l : active) n += clock.now_ns() >= l.read_end_ns;
    return n;
  };
  auto slowdown = [&](int unpacks) { return 1.0 + (cost.unpack_slowdown - 1.0) * unpacks; };
  auto start_loads = [&] {
    while (!waiting.empty() && static_cast<int>(active.size()) < sim.adapter_threads) {
      Load l = waiting.front();
      waiting.pop_front();
      const int rank = trace.adapter_rank[l.adapter];
      // Beside a running step the whole load is slower; the factor is fixed at its start.
      const double f = running ? cost.load_slowdown : 1.0;
      const double read = f * cost.load_read_s(rank), unpack = f * cost.load_unpack_s(rank);
      // The read waits for a free storage lane (the device is shared); the unpack does not.
      std::int64_t read_start = clock.now_ns();
      const auto read_ns = static_cast<std::int64_t>(std::ceil(read * 1e9));
      if (!storage_free.empty()) {
        auto lane = std::min_element(storage_free.begin(), storage_free.end());
        read_start = std::max(read_start, *lane);
        *lane = read_start + read_ns;
      }
      l.read_end_ns = read_start + read_ns;
      l.end_ns = std::max(l.read_end_ns, read_start + to_ns(read + unpack));
      active.push_back(l);
      emit(SimEventKind::LoadStart, l.adapter);
    }
  };
  auto start_step = [&] {
    running = true;
    pending = false;
    StepShape shape;
    shape.tokens = static_cast<int>(plan.batch.size());
    shape.adapters = static_cast<int>(plan.adapters.size());
    for (int a : plan.adapters) shape.rank = std::max(shape.rank, trace.adapter_rank[a]);
    shape.threads = sim.decode_threads;
    for (int id : plan.batch) shape.context_tokens += reqs[id].prompt_tokens + generated[id];
    double t = cost.decode_step_s(shape);
    for (int id : plan.admitted) {
      t += cost.prefill_s(reqs[id].prompt_tokens, sim.decode_threads);
      auto& tm = res.timings[id];
      tm.start_ns = clock.now_ns();
      tm.admit_step = plan.step;
      uses += static_cast<std::int64_t>(reqs[id].adapters.size());
    }
    remaining_s = std::max(t, 1e-9);
    emit(SimEventKind::StepStart, static_cast<int>(plan.step));
  };

  for (;;) {
    const std::int64_t now = clock.now_ns();
    // Events due now, in a fixed order: loads, the step, arrivals.
    for (std::size_t i = 0; i < active.size();) {
      if (active[i].end_ns != now) {
        ++i;
        continue;
      }
      const Load l = active[i];
      active.erase(active.begin() + static_cast<std::ptrdiff_t>(i));
      sched.on_load_done(l.adapter);
      load_ms.push_back(ms(now - l.issue_ns));
      if (loaded_before[l.adapter]) {
        reload_ms.push_back(ms(now - l.issue_ns));
        ++res.reloads;
      }
      loaded_before[l.adapter] = 1;
      ++res.loads;
      emit(SimEventKind::LoadDone, l.adapter);
    }
    start_loads();
    if (running && finish_ns == now) {
      running = false;
      for (int id : plan.batch) ++generated[id];
      for (int id : sched.finish_step()) {
        res.timings[id].finish_ns = now;
        tokens += reqs[id].output_tokens;
        ++done;
      }
      ++res.steps;
      emit(SimEventKind::StepDone, static_cast<int>(plan.step));
    }
    while (next_arrival < reqs.size() && reqs[next_arrival].arrival_ns <= now) {
      const auto& r = reqs[next_arrival++];
      res.timings[r.id].arrival_ns = r.arrival_ns;
      sched.submit(r);
      emit(SimEventKind::Arrival, r.id);
    }
    if (pending && sched.batch_ready()) start_step();
    if (!running && !pending) {
      plan = sched.plan_step();
      res.evictions += static_cast<std::int64_t>(plan.evicted.size());
      for (int a : plan.loads) waiting.push_back(Load{a, now});
      if (!plan.empty()) {
        if (plan.ready)
          start_step();
        else
          pending = true;
      }
      // After the step has started: a prefetch issued with it runs beside it (load_slowdown).
      start_loads();
    }

    const int unpacks = unpacking();
    if (running) finish_ns = now + static_cast<std::int64_t>(std::ceil(remaining_s * slowdown(unpacks) * 1e9));

    std::int64_t next = std::numeric_limits<std::int64_t>::max();
    if (next_arrival < reqs.size()) next = std::min(next, reqs[next_arrival].arrival_ns);
    for (const auto& l : active) {
      if (l.read_end_ns > now) next = std::min(next, l.read_end_ns);
      next = std::min(next, l.end_ns);
    }
    if (running) next = std::min(next, finish_ns);
    if (next == std::numeric_limits<std::int64_t>::max()) {
      if (done == static_cast<int>(reqs.size())) break;
      throw std::logic_error("simulator: " + std::to_string(reqs.size() - done) +
                             " requests left and nothing more can happen");
    }

    const std::int64_t dt = next - now;
    load_busy += dt * static_cast<std::int64_t>(active.size());
    if (running) {
      decode_busy += dt;
      overlap += dt * static_cast<std::int64_t>(active.size());
      remaining_s -= static_cast<double>(dt) * 1e-9 / slowdown(unpacks);
    }
    clock.advance_to(next);
  }

  // Metrics.
  const std::int64_t first = reqs.empty() ? 0 : reqs.front().arrival_ns;
  std::int64_t last = first;
  for (const auto& t : res.timings) last = std::max(last, t.finish_ns);
  const std::int64_t span = std::max<std::int64_t>(1, last - first);
  res.makespan_s = static_cast<double>(span) * 1e-9;

  std::vector<double> lat, base_lat, wait;
  std::vector<double> lat_sum(n_adapters + 1, 0.0);
  std::vector<int> lat_n(n_adapters + 1, 0);
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    const auto& t = res.timings[i];
    const double l = ms(t.finish_ns - t.arrival_ns), w = ms(t.start_ns - t.arrival_ns);
    lat.push_back(l);
    wait.push_back(w);
    res.worst_wait_ms = std::max(res.worst_wait_ms, w);
    if (reqs[i].base()) {
      base_lat.push_back(l);
      res.base_worst_wait_ms = std::max(res.base_worst_wait_ms, w);
      lat_sum[n_adapters] += l;
      ++lat_n[n_adapters];
    }
    for (int a : reqs[i].adapters) {
      res.adapter_worst_wait_ms[a] = std::max(res.adapter_worst_wait_ms[a], w);
      lat_sum[a] += l;
      ++lat_n[a];
    }
  }
  res.p50_ms = percentile(lat, 0.50);
  res.p95_ms = percentile(lat, 0.95);
  res.base_requests = static_cast<int>(base_lat.size());
  res.base_p95_ms = percentile(base_lat, 0.95);
  res.queue_wait_p95_ms = percentile(wait, 0.95);
  res.load_ms_p95 = load_ms.empty() ? 0 : percentile(load_ms, 0.95);
  res.hot_reload_ms_p95 = reload_ms.empty() ? 0 : percentile(reload_ms, 0.95);
  res.tokens_per_s = static_cast<double>(tokens) / res.makespan_s;
  res.decode_utilisation = static_cast<double>(decode_busy) / static_cast<double>(span);
  res.adapter_utilisation = static_cast<double>(load_busy) / (static_cast<double>(span) * sim.adapter_threads);
  res.overlap_ratio = load_busy > 0 ? static_cast<double>(overlap) / static_cast<double>(load_busy) : 0;
  res.cache_hit_rate = uses > 0 ? std::clamp(1.0 - static_cast<double>(res.loads) / static_cast<double>(uses), 0.0, 1.0) : 1.0;
  res.loads_per_s = static_cast<double>(res.loads) / res.makespan_s;
  double sx = 0, sxx = 0;
  int groups = 0;
  for (int g = 0; g <= n_adapters; ++g) {
    if (lat_n[g] == 0) continue;
    const double x = lat_sum[g] / lat_n[g];
    sx += x;
    sxx += x * x;
    ++groups;
  }
  res.jain_fairness = groups > 0 && sxx > 0 ? sx * sx / (groups * sxx) : 1.0;

  res.base_tokens_per_s = std::numeric_limits<double>::quiet_NaN();
  res.lora_tax_pct = std::numeric_limits<double>::quiet_NaN();
  if (sim.lora_tax) {
    Trace base = trace;
    for (auto& r : base.requests) r.adapters.clear();
    SimConfig once = sim;
    once.lora_tax = false;
    res.base_tokens_per_s = simulate(base, sched_cfg, cost, once).tokens_per_s;
    res.lora_tax_pct = (1.0 - res.tokens_per_s / res.base_tokens_per_s) * 100.0;
  }
  return res;
}

bool meets_targets(const SimResult& r, const CapacityTargets& t) {
  return r.p95_ms <= t.p95_ms && r.queue_wait_p95_ms <= t.queue_wait_p95_ms;
}

CapacityResult find_capacity(const TraceOptions& trace, const SchedulerConfig& sched,
                             const CostModel& cost, const SimConfig& sim,
                             const CapacityTargets& targets, const CapacityOptions& opt) {
  if (!(targets.p95_ms > 0)) bad("capacity", "p95_ms", "target must be positive");
  if (!(targets.queue_wait_p95_ms > 0)) bad("capacity", "queue_wait_p95_ms", "target must be positive");
  if (!(opt.min_rps > 0) || !std::isfinite(opt.min_rps)) bad("capacity", "min_rps", "must be a positive rate");
  if (!(opt.max_rps > opt.min_rps) || !std::isfinite(opt.max_rps)) bad("capacity", "max_rps", "must be above min_rps");
  if (opt.max_probes < 2) bad("capacity", "max_probes", "needs at least the two ends");
  if (!(opt.rel_tolerance > 0)) bad("capacity", "rel_tolerance", "must be positive");

  SimConfig quiet = sim;
  quiet.lora_tax = false;
  CapacityResult out;
  auto probe = [&](double rps, SimResult& r) {
    TraceOptions o = trace;
    o.load_rps = rps;
    r = simulate(generate_trace(o), sched, cost, quiet);
    const bool met = meets_targets(r, targets);
    out.probes.emplace_back(rps, met);
    return met;
  };

  SimResult r;
  if (!probe(opt.min_rps, r)) return out;
  out.found = true;
  out.rps = opt.min_rps;
  out.at_rps = r;
  if (probe(opt.max_rps, r)) {
    out.at_max = true;
    out.rps = opt.max_rps;
    out.at_rps = r;
    return out;
  }
  double lo = opt.min_rps, hi = opt.max_rps;
  while (static_cast<int>(out.probes.size()) < opt.max_probes && hi - lo > opt.rel_tolerance * lo) {
    const double mid = 0.5 * (lo + hi);
    if (probe(mid, r)) {
      lo = mid;
      out.rps = mid;
      out.at_rps = r;
    } else {
      hi = mid;
    }
  }
  return out;
}

}  // namespace infeng::sched
