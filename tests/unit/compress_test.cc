#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <random>

#include "base/thread_pool.h"
#include "compress/compress.h"

using namespace distill;

namespace {

class StringSink : public ByteSink {
 public:
  void write(std::string_view data) override { bytes.append(data); }
  std::string bytes;
};

/// Text-like input of `size` bytes: compressible but not trivial.
std::string sample(size_t size) {
  std::mt19937 rng(42);
  const char* words[] = {"layer ", "image ", "distroless ", "tar ", "digest\n", "sha256 ", "0123 ", "config "};
  std::string s;
  while (s.size() < size) s += words[rng() % 8];
  s.resize(size);
  return s;
}

std::string compress(const Compression& c, const std::string& input, unsigned threads, size_t write_size,
                     unsigned share = 0) {
  ThreadPool pool(threads);
  StringSink out;
  auto sink = make_compressor(c, out, pool, share);
  for (size_t i = 0; i < input.size(); i += write_size) sink->write(std::string_view(input).substr(i, write_size));
  sink->finish();
  return out.bytes;
}

std::string zlib_gunzip(const std::string& data) {
  // zlib's inflate with automatic gzip detection, across members.
  std::string out;
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 16 + MAX_WBITS), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  char buf[65536];
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    int rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0) break;
      inflateReset(&z);  // next gzip member
      continue;
    }
    EXPECT_EQ(rc, Z_OK);
    if (rc != Z_OK) break;
  }
  inflateEnd(&z);
  return out;
}

/// One gzip member made by zlib (the same tool as `gzip`), as an oracle.
std::string zlib_gzip(const std::string& data) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

TEST(Compression, ParsesFlag) {
  EXPECT_EQ(Compression::parse("gzip").str(), "gzip:5");
  EXPECT_EQ(Compression::parse("gzip:9").str(), "gzip:9");
  EXPECT_EQ(Compression::parse("zstd").str(), "zstd:3");
  EXPECT_EQ(Compression::parse("zstd:19").layer_media_type(), "application/vnd.oci.image.layer.v1.tar+zstd");
  EXPECT_EQ(Compression::parse("none").layer_media_type(), "application/vnd.oci.image.layer.v1.tar");
  EXPECT_THROW(Compression::parse("gzip:0"), std::exception);
  EXPECT_THROW(Compression::parse("gzip:x"), std::exception);
  EXPECT_THROW(Compression::parse("brotli"), std::exception);
  EXPECT_THROW(Compression::parse("none:3"), std::exception);
}

TEST(Compression, GzipRoundTripsAcrossShards) {
  std::string input = sample(3'500'000);  // four shards, the last partial
  std::string gz = compress(Compression::parse("gzip"), input, 2, 100'000);
  EXPECT_LT(gz.size(), input.size() / 2);
  EXPECT_EQ(zlib_gunzip(gz), input);
}

TEST(Compression, GzipBytesDoNotDependOnThreadsOrWriteSizes) {
  std::string input = sample(5'000'000);
  std::string one = compress(Compression::parse("gzip"), input, 1, 4096);
  EXPECT_EQ(compress(Compression::parse("gzip"), input, 3, 1 << 20), one);
  EXPECT_EQ(compress(Compression::parse("gzip"), input, 8, 777), one);
}

TEST(Compression, GzipOfNothingIsAValidEmptyStream) {
  std::string gz = compress(Compression::parse("gzip"), "", 2, 1);
  EXPECT_FALSE(gz.empty());
  EXPECT_EQ(zlib_gunzip(gz), "");
}

TEST(Compression, ZstdBytesDoNotDependOnThreads) {
  std::string input = sample(12'000'000);  // several zstd jobs
  std::string one = compress(Compression::parse("zstd"), input, 1, 65536);
  EXPECT_EQ(compress(Compression::parse("zstd"), input, 2, 1 << 20), one);
  EXPECT_EQ(compress(Compression::parse("zstd"), input, 4, 333), one);
  std::string back(input.size(), '\0');
  EXPECT_EQ(ZSTD_decompress(back.data(), back.size(), one.data(), one.size()), input.size());
  EXPECT_EQ(back, input);
}

TEST(Compression, AStreamsShareOfThePoolDoesNotChangeItsBytes) {
  // Package layers built at once each get a share of the cores.
  std::string input = sample(9'000'000);
  for (const char* c : {"gzip", "zstd"}) {
    std::string all = compress(Compression::parse(c), input, 4, 65536);
    EXPECT_EQ(compress(Compression::parse(c), input, 4, 65536, 1), all) << c;
    EXPECT_EQ(compress(Compression::parse(c), input, 4, 4096, 2), all) << c;
  }
}

TEST(Gunzip, DecodesWhatZlibWrote) {
  std::string input = sample(3'000'000);
  EXPECT_EQ(gunzip(zlib_gzip(input), 1 << 30, "Packages.gz"), input);
  EXPECT_EQ(gunzip(zlib_gzip(""), 1 << 30, "empty.gz"), "");
}

TEST(Gunzip, DecodesEveryMemberEvenWhenTheLastIsSmall) {
  // The output room is first guessed from the last member's size: a big
  // first member must still fit.
  std::string a = sample(2'000'000), b = "tail\n";
  EXPECT_EQ(gunzip(zlib_gzip(a) + zlib_gzip(b), 1 << 30, "two.gz"), a + b);
  // and distill's own layers are many members
  std::string layer = compress(Compression::parse("gzip"), a, 2, 65536);
  EXPECT_EQ(gunzip(layer, 1 << 30, "layer.gz"), a);
}

TEST(Gunzip, RefusesCorruptDataNamingTheFile) {
  std::string gz = zlib_gzip(sample(100'000));
  std::string flipped = gz;
  flipped[gz.size() / 2] ^= 0x10;
  try {
    gunzip(flipped, 1 << 30, "dists/trixie/main/binary-amd64/Packages.gz");
    FAIL() << "corrupt data was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("binary-amd64/Packages.gz: corrupt gzip data"), std::string::npos) << e.what();
  }
  std::string bad_crc = gz;
  bad_crc[gz.size() - 6] ^= 0x01;  // the CRC-32 in the trailer
  EXPECT_THROW(gunzip(bad_crc, 1 << 30, "x.gz"), std::exception);
  EXPECT_THROW(gunzip(gz.substr(0, gz.size() - 3), 1 << 30, "x.gz"), std::exception);  // truncated
  EXPECT_THROW(gunzip(gz + "garbage!", 1 << 30, "x.gz"), std::exception);               // trailing bytes
}

TEST(Gunzip, RefusesMoreThanTheLimit) {
  std::string gz = zlib_gzip(std::string(5'000'000, 'a'));  // a bomb in miniature
  try {
    gunzip(gz, 1'000'000, "bomb.gz");
    FAIL() << "the limit was not enforced";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("more than 1000000 bytes"), std::string::npos) << e.what();
  }
  EXPECT_EQ(gunzip(gz, 5'000'000, "exact.gz").size(), 5'000'000u);
}
