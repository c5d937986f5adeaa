// core/paths.h: the input and output checks every CLI command makes before opening a file.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "amrs/core/error.h"
#include "amrs/core/paths.h"

using namespace amrs;
namespace fs = std::filesystem;

namespace {

// A fresh folder holding a regular file, a link to it, a subfolder and a FIFO.
struct Folder {
  fs::path dir = fs::temp_directory_path() / ("amrs-test-paths-" + std::to_string(::getpid()));
  std::string file, link, sub, fifo;
  Folder() {
    fs::remove_all(dir);
    fs::create_directories(dir / "sub");
    file = (dir / "data.h5").string();
    std::ofstream(file) << "x";
    link = (dir / "link.h5").string();
    fs::create_symlink(file, link);
    sub = (dir / "sub").string();
    fifo = (dir / "fifo").string();
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  }
  ~Folder() { fs::remove_all(dir); }
};

}  // namespace

TEST_CASE("CheckInputFile accepts regular files (and links to them) and refuses the rest, naming the option") {
  Folder f;
  CHECK_NOTHROW(CheckInputFile(f.file, "--data"));
  CHECK_NOTHROW(CheckInputFile(f.link, "--data"));
  CHECK_THROWS_WITH_AS(CheckInputFile("", "--data"), "--data: the path is empty", ArgumentError);
  CHECK_THROWS_WITH_AS(CheckInputFile(f.sub, "--data"), doctest::Contains("a directory, not a regular file"), InputError);
  CHECK_THROWS_WITH_AS(CheckInputFile(f.fifo, "--world"), doctest::Contains("--world '"), InputError);
  CHECK_THROWS_WITH_AS(CheckInputFile(f.fifo, "--world"), doctest::Contains("a FIFO"), InputError);
  CHECK_THROWS_WITH_AS(CheckInputFile((f.dir / "none.h5").string(), "--data"), doctest::Contains("no such file"),
                       InputError);
}

TEST_CASE("SameFile compares the real files, not the strings") {
  Folder f;
  CHECK(SameFile(f.file, f.link));
  CHECK(SameFile(f.file, (f.dir / "sub" / ".." / "data.h5").string()));
  CHECK_FALSE(SameFile(f.file, f.sub));
  CHECK(SameFile((f.dir / "new.h5").string(), (f.dir / "sub" / ".." / "new.h5").string()));  // neither exists
  CHECK_FALSE(SameFile((f.dir / "new.h5").string(), (f.dir / "other.h5").string()));
}

TEST_CASE("CheckOutputFile refuses an empty path, an input (through a link too) and a non-regular file") {
  Folder f;
  const std::string out = (f.dir / "out.h5").string();
  CHECK_NOTHROW(CheckOutputFile(out, {f.file, ""}, "--out"));
  CHECK_NOTHROW(CheckOutputFile(f.file, {}, "--out"));  // replacing a regular file that is not an input is fine
  CHECK_THROWS_AS(CheckOutputFile("", {f.file}, "--out"), ArgumentError);
  CHECK_THROWS_WITH_AS(CheckOutputFile(f.link, {f.file}, "--out"), doctest::Contains("refusing to replace an input"),
                       ArgumentError);
  CHECK_THROWS_AS(CheckOutputFile(f.file, {"other.h5", f.link}, "--out"), ArgumentError);
  CHECK_THROWS_WITH_AS(CheckOutputFile(f.sub, {}, "--out"), doctest::Contains("a directory exists there"), InputError);
  CHECK_THROWS_WITH_AS(CheckOutputFile(f.fifo, {}, "--out"), doctest::Contains("a FIFO exists there"), InputError);
  CHECK_THROWS_WITH_AS(CheckOutputFile("/dev/null", {}, "--out"), doctest::Contains("a character device"), InputError);
}

TEST_CASE("CheckOutputDir refuses an empty path and an existing non-folder") {
  Folder f;
  CHECK_NOTHROW(CheckOutputDir(f.sub, "--out-dir"));
  CHECK_NOTHROW(CheckOutputDir((f.dir / "new").string(), "--out-dir"));
  CHECK_THROWS_AS(CheckOutputDir("", "--out-dir"), ArgumentError);
  CHECK_THROWS_WITH_AS(CheckOutputDir(f.file, "--out-dir"), doctest::Contains("the output must be a folder"), InputError);
}
