#include "lib/tasks/arith.h"

#include <spdlog/fmt/fmt.h>

#include <array>
#include <cctype>
#include <vector>

namespace kvmix {
namespace {

int digit(int64_t x, int i) {
  for (int k = 0; k < i; ++k) x /= 10;
  return static_cast<int>(x % 10);
}

int num_digits(int64_t x) {
  int n = 1;
  while (x >= 10) x /= 10, ++n;
  return n;
}

struct Person {
  const char* name;
  const char* pronoun;  // subject
};
constexpr std::array<Person, 12> kPeople = {{{"Ann", "She"}, {"Ben", "He"}, {"Cara", "She"},
                                             {"Dan", "He"}, {"Eva", "She"}, {"Finn", "He"},
                                             {"Gina", "She"}, {"Hugo", "He"}, {"Ivy", "She"},
                                             {"Jack", "He"}, {"Kate", "She"}, {"Leo", "He"}}};
constexpr std::array<const char*, 12> kItems = {"apples", "books",  "coins", "stamps",
                                                "marbles", "pens",  "shells", "cards",
                                                "eggs",   "stones", "beads", "toys"};
constexpr std::array<const char*, 4> kGain = {"buys {} more", "finds {} more",
                                              "gets {} more from a friend", "wins {} more"};
constexpr std::array<const char*, 4> kLose = {"gives away {}", "sells {}", "loses {}",
                                              "gives {} to a friend"};

}  // namespace

std::string worked_add(int64_t a, int64_t b) {
  std::string s = fmt::format("{}+{}:", a, b);
  const int n = std::max(num_digits(a), num_digits(b));
  int carry = 0;
  for (int i = 0; i < n; ++i) {
    const int da = digit(a, i), db = digit(b, i), sum = da + db + carry;
    s += carry ? fmt::format(" {}+{}+1={},", da, db, sum) : fmt::format(" {}+{}={},", da, db, sum);
    carry = sum / 10;
  }
  return s + fmt::format(" so {}.", a + b);
}

std::string worked_sub(int64_t a, int64_t b) {
  std::string s = fmt::format("{}-{}:", a, b);
  const int n = num_digits(a);
  int borrow = 0;
  for (int i = 0; i < n; ++i) {
    const int da = digit(a, i), db = digit(b, i);
    const bool need = da - borrow < db;
    const int left = da + (need ? 10 : 0);
    const int r = left - borrow - db;
    s += borrow ? fmt::format(" {}-1-{}={},", left, db, r) : fmt::format(" {}-{}={},", left, db, r);
    borrow = need ? 1 : 0;
  }
  return s + fmt::format(" so {}.", a - b);
}

std::string worked_mul(int64_t a, int64_t d) {
  std::string s = fmt::format("{}*{}:", a, d);
  const int n = num_digits(a);
  int carry = 0;
  for (int i = 0; i < n; ++i) {
    const int da = digit(a, i);
    const int p = da * static_cast<int>(d) + carry;
    s += carry ? fmt::format(" {}*{}+{}={},", da, d, carry, p) : fmt::format(" {}*{}={},", da, d, p);
    carry = p / 10;
  }
  return s + fmt::format(" so {}.", a * d);
}

ArithProblem make_arith_problem(Rng& rng, const ArithOptions& opt) {
  const Person& who = kPeople[rng.uniform(kPeople.size())];
  const char* items = kItems[rng.uniform(kItems.size())];
  int64_t cur = rng.range(10, 99);
  const int ops = static_cast<int>(rng.range(opt.min_ops, opt.max_ops));

  std::string story = fmt::format("{} has {} {}.", who.name, cur, items);
  std::string steps;
  bool multiplied = false;
  for (int k = 0; k < ops; ++k) {
    // Pick an operation that keeps the count in [0, 999].
    std::vector<int> choices;
    if (cur + 10 <= 999) choices.push_back(0);  // add
    if (cur >= 1) choices.push_back(1);          // subtract
    if (!multiplied && cur >= 2 && cur * 2 <= 999) choices.push_back(2);
    const int op = choices[rng.uniform(choices.size())];
    if (!steps.empty()) steps += ' ';
    if (op == 0) {
      const int64_t b = rng.range(10, std::min<int64_t>(99, 999 - cur));
      story += ' ' + std::string(who.pronoun) + ' ' +
               fmt::format(fmt::runtime(kGain[rng.uniform(kGain.size())]), b) + '.';
      steps += worked_add(cur, b);
      cur += b;
    } else if (op == 1) {
      const int64_t b = rng.range(1, std::min<int64_t>(99, cur));
      story += ' ' + std::string(who.pronoun) + ' ' +
               fmt::format(fmt::runtime(kLose[rng.uniform(kLose.size())]), b) + '.';
      steps += worked_sub(cur, b);
      cur -= b;
    } else {
      const int64_t dmax = std::min<int64_t>(5, 999 / cur);
      const int64_t d = rng.range(2, dmax);
      story += fmt::format(" Then the number of {} is multiplied by {}.", items, d);
      steps += worked_mul(cur, d);
      cur *= d;
      multiplied = true;
    }
  }
  story += fmt::format(" How many {} does {} have now?", items, who.name);

  ArithProblem p;
  p.ops = ops;
  p.result = cur;
  p.text.prompt = "Q: " + story + "\nA:";
  p.text.answer = std::to_string(cur);
  p.text.target = " " + steps + " #### " + p.text.answer + "\n";
  return p;
}

ArithProblem make_arith_problem(Split split, uint64_t index, const ArithOptions& opt) {
  Rng rng = Rng::from(fnv1a64("arith"), split_seed_base(split) + index);
  return make_arith_problem(rng, opt);
}

std::string extract_final_number(const std::string& g) {
  auto number_at = [&](size_t i) {
    while (i < g.size() && g[i] == ' ') ++i;
    size_t j = i;
    if (j < g.size() && g[j] == '-') ++j;
    while (j < g.size() && std::isdigit(static_cast<unsigned char>(g[j]))) ++j;
    return (j > i && std::isdigit(static_cast<unsigned char>(g[j - 1]))) ? g.substr(i, j - i)
                                                                        : std::string();
  };
  const size_t mark = g.rfind("####");
  if (mark != std::string::npos) return number_at(mark + 4);
  // GSM8K fallback: the last number in the text.
  size_t end = g.size();
  while (end > 0 && !std::isdigit(static_cast<unsigned char>(g[end - 1]))) --end;
  if (end == 0) return {};
  size_t begin = end;
  while (begin > 0 && std::isdigit(static_cast<unsigned char>(g[begin - 1]))) --begin;
  if (begin > 0 && g[begin - 1] == '-') --begin;
  return g.substr(begin, end - begin);
}

}  // namespace kvmix
