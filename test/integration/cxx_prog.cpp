// cxx_prog: a small C++ program run by programs.sh with and without
// LD_PRELOAD of the library; its output must be identical.  Uses
// std::string, std::map, std::vector, std::unordered_map, std::shared_ptr,
// over-aligned new, and std::thread (objects built in one thread and
// destroyed in another).
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

std::uint64_t fnv(std::uint64_t h, const void *p, std::size_t n) {
	const unsigned char *b = static_cast<const unsigned char *>(p);
	for (std::size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

struct alignas(64) Cell {
	std::uint64_t v[8];
};

struct alignas(4096) Page {
	unsigned char b[4096];
};

struct Result {
	std::uint64_t hash = 1469598103934665603ULL;
	std::size_t strings = 0, keys = 0, bytes = 0;
};

std::mutex handoff_mu;
std::vector<std::unique_ptr<std::vector<std::string>>> handoff;

Result work(unsigned id, unsigned rounds) {
	Result r;
	std::uint64_t x = 88172645463325252ULL + id;
	auto rnd = [&x]() {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		return x;
	};
	for (unsigned round = 0; round < rounds; round++) {
		std::map<std::string, std::vector<int>> m;
		std::unordered_map<std::uint64_t, std::string> um;
		std::vector<std::shared_ptr<std::string>> shared;
		for (int i = 0; i < 2000; i++) {
			std::string key = "k" + std::to_string(rnd() % 500) + "-" + std::to_string(id);
			auto &v = m[key];
			v.push_back(static_cast<int>(rnd() % 1000));
			std::string s(static_cast<std::size_t>(rnd() % 300), static_cast<char>('a' + rnd() % 26));
			s += key;
			um[rnd() % 700] = s;
			if (i % 10 == 0)
				shared.push_back(std::make_shared<std::string>(s + s));
			r.strings++;
		}
		for (auto &kv : m) {
			r.hash = fnv(r.hash, kv.first.data(), kv.first.size());
			r.hash = fnv(r.hash, kv.second.data(), kv.second.size() * sizeof(int));
			r.keys++;
		}
		std::map<std::uint64_t, std::size_t> sorted;
		for (auto &kv : um)
			sorted[kv.first] = kv.second.size();
		for (auto &kv : sorted)
			r.hash = fnv(r.hash, &kv, sizeof kv);
		for (auto &p : shared)
			r.bytes += p->size();
		// over-aligned allocations (operator new(size, align_val_t))
		std::vector<std::unique_ptr<Cell>> cells;
		for (int i = 0; i < 200; i++) {
			cells.emplace_back(new Cell());
			if (reinterpret_cast<std::uintptr_t>(cells.back().get()) % alignof(Cell) != 0) {
				std::printf("misaligned Cell\n");
				std::exit(1);
			}
			cells.back()->v[0] = static_cast<std::uint64_t>(i);
		}
		std::unique_ptr<Page[]> pages(new Page[3]);
		if (reinterpret_cast<std::uintptr_t>(pages.get()) % 4096 != 0) {
			std::printf("misaligned Page\n");
			std::exit(1);
		}
		pages[2].b[4095] = 1;
		// a big vector grown by push_back (many reallocations of large blocks)
		std::vector<std::uint64_t> big;
		for (int i = 0; i < 200000; i++)
			big.push_back(rnd() & 0xff);
		r.hash = fnv(r.hash, big.data(), 64);
		r.bytes += big.size();
		// hand a vector of strings to whoever frees it
		auto hv = std::make_unique<std::vector<std::string>>();
		for (int i = 0; i < 100; i++)
			hv->push_back(std::string(static_cast<std::size_t>(i * 13), 'z'));
		std::lock_guard<std::mutex> g(handoff_mu);
		handoff.push_back(std::move(hv));
		if (handoff.size() > 8)
			handoff.erase(handoff.begin(), handoff.begin() + 4); // freed by this thread, built by others
	}
	return r;
}

} // namespace

int main() {
	const unsigned nthreads = 6, rounds = 30;
	std::vector<Result> res(nthreads);
	std::vector<std::thread> ts;
	for (unsigned t = 0; t < nthreads; t++)
		ts.emplace_back([t, &res]() { res[t] = work(t, rounds); });
	for (auto &t : ts)
		t.join();
	for (unsigned t = 0; t < nthreads; t++)
		std::printf("thread %u: hash %016llx strings %zu keys %zu bytes %zu\n", t,
		    static_cast<unsigned long long>(res[t].hash), res[t].strings, res[t].keys, res[t].bytes);
	std::size_t left = 0;
	for (auto &v : handoff)
		left += v->size();
	handoff.clear();
	std::printf("handoff left: %zu\n", left);
	// everything in one thread again
	Result r = work(99, 3);
	std::printf("main: hash %016llx strings %zu keys %zu bytes %zu\n", static_cast<unsigned long long>(r.hash),
	    r.strings, r.keys, r.bytes);
	return 0;
}
