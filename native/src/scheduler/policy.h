// The interface between the scheduler's mechanism (queue, cache slots, pins, batch forming in
// scheduler.cpp) and its policies: a policy only orders the queue, says whether a request may
// join before its adapters are loaded, whether to prefetch, and which adapter to evict.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "infeng/scheduler.h"

namespace infeng::sched::detail {

enum class SlotState : std::uint8_t { Absent, Loading, Resident };

struct AdapterSlot {
  SlotState state = SlotState::Absent;
  int pins = 0;                  // running requests using it
  std::int64_t last_use = -1;    // last step it was in (or was prefetched for)
  double freq = 0;               // cost_aware: aged use count as of freq_step
  std::int64_t freq_step = 0;
  double reload_cost_s = 0;
};

struct QueuedView {
  int id = 0;
  std::int64_t seq = 0;   // submission order
  int waited = 0;         // steps spent queued
  int size_tokens = 0;    // prompt + output
  bool starving = false;  // waited >= max_wait_steps, for policies with the bound
};

class PolicyRules {
 public:
  virtual ~PolicyRules() = default;
  // Indices into `queue` (which is in submission order), in the order to consider them.
  virtual void order(const std::vector<QueuedView>& queue, std::vector<int>& out) const = 0;
  // Whether a starving request is served before all others and holds back those behind it.
  virtual bool has_starvation_bound() const = 0;
  // May the request join with adapters still to load (the step then waits for them)?
  virtual bool admits_unloaded(const QueuedView& q) const = 0;
  virtual bool prefetches() const = 0;
  // True when adapter a (id ia) should be evicted before b (id ib) at step `step`.
  virtual bool evict_before(const AdapterSlot& a, int ia, const AdapterSlot& b, int ib,
                            std::int64_t step) const = 0;
  // A request using the adapter joined at `step`.
  virtual void on_admit(AdapterSlot& a, std::int64_t step) const = 0;
};

std::unique_ptr<PolicyRules> make_policy(const SchedulerConfig& c);

}  // namespace infeng::sched::detail
