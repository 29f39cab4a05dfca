// The scheduler's mechanism: queue, adapter cache (slots, pins, loads), batch forming at each
// step boundary. Policies (policy.h) decide order, eviction and whether to prefetch.
//
// Iteration-level batching: a request joins the running batch between two steps, runs its
// prefill and first token in the step it joins, one more token per step after that, and
// leaves after its last. Every adapter of a running request is pinned; a loading adapter holds
// its slot. Nothing here depends on time, so the simulator and an engine's loop share it.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "policy.h"

namespace infeng::sched {

using detail::AdapterSlot;
using detail::QueuedView;
using detail::SlotState;

namespace {

[[noreturn]] void bad(const std::string& option, const std::string& why) {
  throw std::invalid_argument("scheduler option " + option + ": " + why);
}

bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

}  // namespace

void validate(const SchedulerConfig& c) {
  if (c.policy != Policy::FcfsLru && c.policy != Policy::AffinityPrefetch && c.policy != Policy::CostAware)
    bad("policy", "unknown value " + std::to_string(static_cast<int>(c.policy)));
  if (c.cache_capacity < 1)
    bad("cache_capacity", "the cache must hold at least one adapter (got " +
                              std::to_string(c.cache_capacity) + ")");
  if (c.max_batch_size < 1) bad("max_batch_size", "must be >= 1 (got " + std::to_string(c.max_batch_size) + ")");
  if (c.max_adapters_per_batch < 1)
    bad("max_adapters_per_batch", "must be >= 1 (got " + std::to_string(c.max_adapters_per_batch) + ")");
  if (c.max_wait_steps < 1) bad("max_wait_steps", "must be >= 1 (got " + std::to_string(c.max_wait_steps) + ")");
  if (c.prefetch_lookahead < 0)
    bad("prefetch_lookahead", "must be >= 0 (got " + std::to_string(c.prefetch_lookahead) + ")");
  if (!(c.frequency_decay > 0 && c.frequency_decay <= 1))
    bad("frequency_decay", "must be in (0, 1] (got " + std::to_string(c.frequency_decay) + ")");
}

struct Scheduler::State {
  struct Req {
    Request r;
    std::int64_t seq = 0;
    int waited = 0;
    int generated = 0;
  };

  SchedulerConfig cfg;
  std::unique_ptr<detail::PolicyRules> policy;
  int cap = 0;  // distinct adapters per step: the configured cap, at most the cache
  std::vector<AdapterSlot> slots;
  int occupied = 0;  // Loading + Resident
  std::unordered_map<int, Req> reqs;  // looked up only: iteration order never matters
  std::vector<int> queue;    // submission order
  std::vector<int> running;  // admission order
  std::int64_t next_seq = 0;
  std::int64_t steps = 0;
  bool in_flight = false;
  std::vector<int> step_adapters;

  int num_adapters() const { return static_cast<int>(slots.size()); }

  // Room for `need` more adapters: free slots first, then evictions. Never evicts anything
  // pinned, loading or in `keep`. With `next_use` (prefetch), an adapter is only a candidate if
  // no queued request before `position` needs it, and the ones needed latest (or never) go
  // first, the policy deciding among equals. Returns false, evicting nothing, when there is not
  // enough room.
  bool make_room(int need, const std::vector<int>& keep, std::int64_t step, std::vector<int>& evicted,
                 const std::vector<int>* next_use = nullptr, int position = 0) {
    int free_slots = cfg.cache_capacity - occupied;
    if (need <= free_slots) return true;
    std::vector<int> victims;
    for (int a = 0; a < num_adapters(); ++a) {
      const auto& s = slots[a];
      if (s.state != SlotState::Resident || s.pins != 0 || contains(keep, a)) continue;
      if (next_use && (*next_use)[a] <= position) continue;
      victims.push_back(a);
    }
    const int more = need - free_slots;
    if (static_cast<int>(victims.size()) < more) return false;
    std::partial_sort(victims.begin(), victims.begin() + more, victims.end(), [&](int x, int y) {
      if (next_use && (*next_use)[x] != (*next_use)[y]) return (*next_use)[x] > (*next_use)[y];
      return policy->evict_before(slots[x], x, slots[y], y, step);
    });
    for (int i = 0; i < more; ++i) {
      slots[victims[i]].state = SlotState::Absent;
      --occupied;
      evicted.push_back(victims[i]);
    }
    return true;
  }

  // The adapter of the step, outside `except`, whose running requests all finish first.
  int soonest_to_drain(const std::vector<int>& step_adapters, const std::vector<int>& except) const {
    int best = -1, best_left = 0;
    for (int a : step_adapters) {
      if (contains(except, a)) continue;
      int left = 0;
      for (int id : running) {
        const auto& q = reqs.at(id);
        if (contains(q.r.adapters, a)) left = std::max(left, q.r.output_tokens - q.generated);
      }
      if (best < 0 || left < best_left || (left == best_left && a < best)) {
        best = a;
        best_left = left;
      }
    }
    return best;
  }

  void start_load(int a, std::int64_t step, StepPlan& plan) {
    auto& s = slots[a];
    s.state = SlotState::Loading;
    s.last_use = std::max(s.last_use, step);
    ++occupied;
    plan.loads.push_back(a);
  }

  bool all_resident(const std::vector<int>& adapters) const {
    for (int a : adapters)
      if (slots[a].state != SlotState::Resident) return false;
    return true;
  }
};

Scheduler::Scheduler(const SchedulerConfig& config, std::vector<double> reload_cost_s)
    : s_(std::make_unique<State>()) {
  validate(config);
  if (reload_cost_s.empty()) bad("reload_cost_s", "one cost per adapter: got none");
  s_->cfg = config;
  s_->policy = detail::make_policy(config);
  s_->cap = std::min(config.max_adapters_per_batch, config.cache_capacity);
  s_->slots.resize(reload_cost_s.size());
  for (std::size_t a = 0; a < reload_cost_s.size(); ++a) {
    if (!(reload_cost_s[a] >= 0) || !std::isfinite(reload_cost_s[a]))
      bad("reload_cost_s", "adapter " + std::to_string(a) + " has no finite non-negative cost");
    s_->slots[a].reload_cost_s = reload_cost_s[a];
  }
}

Scheduler::~Scheduler() = default;
Scheduler::Scheduler(Scheduler&&) noexcept = default;
Scheduler& Scheduler::operator=(Scheduler&&) noexcept = default;

void Scheduler::submit(const Request& r) {
  auto& s = *s_;
  if (s.reqs.count(r.id)) throw std::invalid_argument("submit: request id " + std::to_string(r.id) + " already queued or running");
  if (r.output_tokens < 1) throw std::invalid_argument("submit: request " + std::to_string(r.id) + " has no output token");
  if (r.prompt_tokens < 0) throw std::invalid_argument("submit: request " + std::to_string(r.id) + " has a negative prompt");
  std::vector<int> adapters = r.adapters;
  std::sort(adapters.begin(), adapters.end());
  adapters.erase(std::unique(adapters.begin(), adapters.end()), adapters.end());
  for (int a : adapters)
    if (a < 0 || a >= s.num_adapters())
      throw std::invalid_argument("submit: request " + std::to_string(r.id) + " names adapter " +
                                  std::to_string(a) + " of " + std::to_string(s.num_adapters()));
  if (static_cast<int>(adapters.size()) > s.cap)
    throw std::invalid_argument("submit: request " + std::to_string(r.id) + " uses " +
                                std::to_string(adapters.size()) +
                                " adapters, more than max_adapters_per_batch / cache_capacity allow (" +
                                std::to_string(s.cap) + ")");
  State::Req q;
  q.r = r;
  q.r.adapters = std::move(adapters);
  q.seq = s.next_seq++;
  s.reqs.emplace(r.id, std::move(q));
  s.queue.push_back(r.id);
}

void Scheduler::preload(int adapter) {
  auto& s = *s_;
  if (adapter < 0 || adapter >= s.num_adapters())
    throw std::invalid_argument("preload: no adapter " + std::to_string(adapter));
  auto& slot = s.slots[adapter];
  if (slot.state != SlotState::Absent) return;
  if (s.occupied >= s.cfg.cache_capacity) throw std::invalid_argument("preload: the cache_capacity is used up");
  slot.state = SlotState::Resident;
  ++s.occupied;
}

StepPlan Scheduler::plan_step() {
  auto& s = *s_;
  if (s.in_flight) throw std::logic_error("plan_step: the previous step has not finished");
  StepPlan plan;
  const std::int64_t step = s.steps;

  std::vector<int> adapters;  // distinct adapters of the step
  for (int id : s.running) {
    plan.batch.push_back(id);
    for (int a : s.reqs.at(id).r.adapters)
      if (!contains(adapters, a)) adapters.push_back(a);
  }

  std::vector<QueuedView> view;
  view.reserve(s.queue.size());
  const bool bound = s.policy->has_starvation_bound();
  for (int id : s.queue) {
    const auto& q = s.reqs.at(id);
    view.push_back({id, q.seq, q.waited, q.r.prompt_tokens + q.r.output_tokens,
                    bound && q.waited >= s.cfg.max_wait_steps});
  }
  std::vector<int> order;
  s.policy->order(view, order);

  // The oldest starving request that cannot join yet keeps what it needs from everything
  // behind it: a batch position, room under the cap for its adapters, their cache slots. When
  // the cap is what keeps it out, the adapter of the step that drains soonest takes no new
  // requests, so a slot under the cap frees within the longest remaining output on that
  // adapter. Only the oldest reserves: under overload every request starves, and reserving
  // for all of them would empty the batch.
  std::vector<char> taken(view.size(), 0);
  std::vector<int> missing, keep, reserved;
  bool reserving = false;
  int draining = -1;
  // Under the cap with `want` added; a request that brings new adapters must also leave room
  // for the reserved ones.
  auto fits_cap = [&](const std::vector<int>& want) {
    int n = static_cast<int>(adapters.size());
    for (int a : want)
      if (!contains(adapters, a)) ++n;
    if (n == static_cast<int>(adapters.size())) return true;
    int with_reserved = n;
    for (int a : reserved)
      if (!contains(adapters, a) && !contains(want, a)) ++with_reserved;
    return n <= s.cap && with_reserved <= s.cap;
  };
  for (int i : order) {
    if (static_cast<int>(plan.batch.size()) + (reserving ? 1 : 0) >= s.cfg.max_batch_size) break;
    const auto& v = view[i];
    const auto& want = s.reqs.at(v.id).r.adapters;
    bool ok = fits_cap(want) && !contains(want, draining);
    const bool cap_blocked = !ok;
    if (ok) {
      missing.clear();
      for (int a : want)
        if (s.slots[a].state != SlotState::Resident && !contains(adapters, a)) missing.push_back(a);
      if (!missing.empty()) {
        ok = s.policy->admits_unloaded(v);
        int absent = 0;
        for (int a : missing) absent += s.slots[a].state == SlotState::Absent;
        if (ok && absent > 0) {
          keep = adapters;
          keep.insert(keep.end(), want.begin(), want.end());
          keep.insert(keep.end(), reserved.begin(), reserved.end());
          ok = s.make_room(absent, keep, step, plan.evicted);
          if (ok)
            for (int a : missing)
              if (s.slots[a].state == SlotState::Absent) s.start_load(a, step, plan);
        }
      }
    }
    if (ok) {
      taken[i] = 1;
      plan.batch.push_back(v.id);
      plan.admitted.push_back(v.id);
      for (int a : want) {
        if (!contains(adapters, a)) adapters.push_back(a);
        s.policy->on_admit(s.slots[a], step);
      }
    } else if (v.starving && !reserving) {
      reserving = true;
      reserved = want;
      if (cap_blocked) draining = s.soonest_to_drain(adapters, want);
      // Its loads start now whatever the prefetch settings, so it is ready when room is.
      int absent = 0;
      for (int a : want) absent += s.slots[a].state == SlotState::Absent;
      if (absent > 0) {
        keep = adapters;
        keep.insert(keep.end(), want.begin(), want.end());
        if (s.make_room(absent, keep, step, plan.evicted))
          for (int a : want)
            if (s.slots[a].state == SlotState::Absent) s.start_load(a, step, plan);
      }
    }
  }

  if (s.policy->prefetches() && s.cfg.prefetch_lookahead > 0) {
    // The first prefetch_lookahead queued requests in policy order: their adapters load into
    // free slots, or in place of adapters that nobody running needs and no request nearer the
    // front of the queue needs (those needed latest, or never, go first). A request whose
    // adapters do not fit ends the scan: everything behind it matters less.
    std::vector<int> window;
    for (int i : order) {
      if (taken[i]) continue;
      if (static_cast<int>(window.size()) >= s.cfg.prefetch_lookahead) break;
      window.push_back(view[i].id);
    }
    constexpr int kNever = 1 << 30;
    std::vector<int> next_use(s.slots.size(), kNever);
    for (int p = 0; p < static_cast<int>(window.size()); ++p)
      for (int a : s.reqs.at(window[p]).r.adapters) next_use[a] = std::min(next_use[a], p);
    for (int p = 0; p < static_cast<int>(window.size()); ++p) {
      const auto& want = s.reqs.at(window[p]).r.adapters;
      int absent = 0;
      for (int a : want) absent += s.slots[a].state == SlotState::Absent;
      if (absent == 0) continue;
      keep = adapters;
      keep.insert(keep.end(), want.begin(), want.end());
      if (!s.make_room(absent, keep, step, plan.evicted, &next_use, p)) break;
      for (int a : want)
        if (s.slots[a].state == SlotState::Absent) s.start_load(a, step, plan);
    }
  }

  // Nothing runs, nothing loads, and nobody can join: with no steps no request ever starves,
  // so without this the queue would wait for ever (no prefetch, or a policy that waits for
  // residency). The first request in policy order gets its adapters; nothing is pinned.
  if (plan.batch.empty() && !s.queue.empty()) {
    bool loading = false;
    for (const auto& slot : s.slots) loading = loading || slot.state == SlotState::Loading;
    if (!loading) {
      const auto& want = s.reqs.at(view[order.front()].id).r.adapters;
      int absent = 0;
      for (int a : want) absent += s.slots[a].state == SlotState::Absent;
      if (absent > 0 && s.make_room(absent, want, step, plan.evicted))
        for (int a : want)
          if (s.slots[a].state == SlotState::Absent) s.start_load(a, step, plan);
    }
  }

  if (!plan.admitted.empty()) {
    std::vector<int> left;
    left.reserve(s.queue.size());
    for (std::size_t i = 0; i < view.size(); ++i)
      if (!taken[i]) left.push_back(view[i].id);
    s.queue.swap(left);
    for (int id : plan.admitted) s.running.push_back(id);
    for (int id : plan.admitted)
      for (int a : s.reqs.at(id).r.adapters) ++s.slots[a].pins;
  }

  if (!plan.batch.empty()) {
    plan.step = step;
    ++s.steps;
    s.in_flight = true;
    for (int id : s.queue) ++s.reqs.at(id).waited;
    for (int a : adapters) s.slots[a].last_use = step;
    std::sort(adapters.begin(), adapters.end());
    plan.adapters = adapters;
    s.step_adapters = adapters;
    plan.ready = s.all_resident(adapters);
  }
  return plan;
}

bool Scheduler::batch_ready() const { return s_->in_flight && s_->all_resident(s_->step_adapters); }

void Scheduler::on_load_done(int adapter) {
  auto& s = *s_;
  if (adapter < 0 || adapter >= s.num_adapters() || s.slots[adapter].state != SlotState::Loading)
    throw std::logic_error("on_load_done: adapter " + std::to_string(adapter) + " was not loading");
  s.slots[adapter].state = SlotState::Resident;
}

std::vector<int> Scheduler::finish_step() {
  auto& s = *s_;
  if (!s.in_flight) throw std::logic_error("finish_step: no step was planned");
  if (!s.all_resident(s.step_adapters)) throw std::logic_error("finish_step: the step's adapters are not all loaded");
  s.in_flight = false;
  std::vector<int> finished, still;
  for (int id : s.running) {
    auto& q = s.reqs.at(id);
    if (++q.generated >= q.r.output_tokens) {
      finished.push_back(id);
      for (int a : q.r.adapters) --s.slots[a].pins;
    } else {
      still.push_back(id);
    }
  }
  for (int id : finished) s.reqs.erase(id);
  s.running.swap(still);
  return finished;
}

bool Scheduler::resident(int a) const {
  return a >= 0 && a < s_->num_adapters() && s_->slots[a].state == SlotState::Resident;
}
bool Scheduler::loading(int a) const {
  return a >= 0 && a < s_->num_adapters() && s_->slots[a].state == SlotState::Loading;
}
int Scheduler::queued() const { return static_cast<int>(s_->queue.size()); }
int Scheduler::running() const { return static_cast<int>(s_->running.size()); }
std::int64_t Scheduler::steps() const { return s_->steps; }
int Scheduler::waited_steps(int id) const {
  if (!contains(s_->queue, id)) return -1;
  return s_->reqs.at(id).waited;
}
const SchedulerConfig& Scheduler::config() const { return s_->cfg; }

}  // namespace infeng::sched
