// The general pre-tokenizer: any chain of the reference's pre-tokenizers that split text
// (Split with any regex or string and every behaviour, Whitespace, WhitespaceSplit, Digits,
// Punctuation, Metaspace, ByteLevel's own regex and prefix space), as a list of steps each
// refining the pieces of the one before, with the reference's semantics. The hand-written
// pre-tokenizer (pretokenizer.h) replaces it for the patterns it knows.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pattern_regex.h"

namespace infeng::tok {

// What becomes of the matches of a Split (the reference's SplitDelimiterBehavior).
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// Parses the reference's spelling ("Isolated", ...); false when unknown.
bool parse_split_behavior(std::string_view name, SplitBehavior* out);

struct PreStep {
  enum class Kind {
    Split,        // cut each piece at the matches of `re`
    PrefixSpace,  // ByteLevel add_prefix_space: a piece not starting with ' ' gets one
    Metaspace,    // ' ' → replacement, then prepend it by `scheme`
  };
  Kind kind = Kind::Split;
  std::shared_ptr<const Regex> re;
  SplitBehavior behavior = SplitBehavior::Isolated;
  bool invert = false;
  std::string replacement;           // Metaspace
  enum class Prepend { Always, First, Never } scheme = Prepend::Always;
};

// A piece: bytes [begin, end) of the working buffer; `first` when it starts at offset 0 of the
// whole input (Metaspace's prepend_scheme "first").
struct PrePiece {
  uint32_t begin, end;
  bool first;
};

// Reused buffers of one thread.
struct PreStepScratch {
  std::string buf, buf2;
  std::vector<PrePiece> pieces, pieces2;
  std::vector<Regex::Span> spans;
};

// Runs the steps over `text` (one segment between added tokens, already normalized);
// `at_start` when the segment starts the input. The result is in scratch.buf / scratch.pieces
// (empty pieces dropped, as the reference drops them).
void run_pre_steps(const std::vector<PreStep>& steps, std::string_view text, bool at_start, PreStepScratch& scratch);

// Cuts one piece by the behaviour, given its spans (from Regex::find_matches, with offsets
// relative to the piece): appends the resulting [begin, end) ranges, relative, empty ones
// included. Exposed for tests.
void split_by_behavior(const std::vector<Regex::Span>& spans, SplitBehavior behavior, bool invert,
                       std::vector<std::pair<uint32_t, uint32_t>>& out);

}  // namespace infeng::tok
