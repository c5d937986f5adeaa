// Internal RAII helpers over the HDF5 C API (thread-safe build): CMake target amrs_h5util, linked
// privately by the modules that read or write HDF5 files. Not installed.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "amrs/core/error.h"

namespace amrs::data::h5 {

class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer c) : id_(id), close_(c) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      Reset();
      id_ = o.id_;
      close_ = o.close_;
      o.id_ = -1;
    }
    return *this;
  }
  ~Handle() { Reset(); }
  void Reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = -1;
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  Closer close_ = nullptr;
};

template <typename T>
hid_t MemType() {
  if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
  else if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  else if constexpr (std::is_same_v<T, std::int8_t>) return H5T_NATIVE_INT8;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return H5T_NATIVE_UINT8;
  else if constexpr (std::is_same_v<T, std::int32_t>) return H5T_NATIVE_INT32;
  else if constexpr (std::is_same_v<T, std::int64_t>) return H5T_NATIVE_INT64;
  else if constexpr (std::is_same_v<T, std::uint64_t>) return H5T_NATIVE_UINT64;
  else static_assert(sizeof(T) == 0, "unsupported HDF5 element type");
}

// The layout this project writes and reads (docs/data-format.md, "Container"): HDF5 1.10's latest
// format (superblock version 3), whose metadata HDF5 verifies by checksum when it reads it;
// fixed-length strings only (no global heap); attributes, links and small string lists compact,
// in the object header (up to kMaxCompact per object); other datasets chunked with a Fletcher-32
// checksum per chunk (numeric ones also deflated, whose zlib stream has its own Adler-32).
constexpr int kMinSuperblockVersion = 2;
constexpr unsigned kMaxCompact = 65535;
constexpr std::size_t kMaxCompactBytes = 32768;  // string lists up to this size: compact layout
constexpr std::size_t kMaxStringBytes = std::size_t{1} << 30;  // one string attribute or list entry
// Throws InputError naming `path` unless it starts with the HDF5 signature and a superblock of
// version >= kMinSuperblockVersion. Reads 9 bytes; parses nothing else.
void CheckContainer(const std::string& path);

// A file open for reading, with error messages naming the file.
class File {
 public:
  static File Open(const std::string& path);    // read-only
  static File Create(const std::string& path);  // truncate
  const std::string& path() const { return path_; }
  hid_t id() const { return h_.get(); }
  void Close() { h_.Reset(); }

  bool Exists(const std::string& name) const;
  std::vector<std::string> Children(const std::string& group) const;
  std::vector<hsize_t> Shape(const std::string& name) const;
  template <typename T>
  std::vector<T> Read(const std::string& name, std::vector<hsize_t>* shape = nullptr) const;
  template <typename T>
  void Write(const std::string& name, const std::vector<T>& data,
             std::vector<hsize_t> shape = {});
  void Group(const std::string& name);
  std::string ReadStringAttr(const std::string& obj, const std::string& attr) const;
  bool HasAttr(const std::string& obj, const std::string& attr) const;
  void WriteStringAttr(const std::string& obj, const std::string& attr, const std::string& v);
  template <typename T>
  T ReadScalarAttr(const std::string& obj, const std::string& attr) const;
  template <typename T>
  void WriteScalarAttr(const std::string& obj, const std::string& attr, T v);
  std::vector<std::string> ReadStrings(const std::string& name) const;
  void WriteStrings(const std::string& name, const std::vector<std::string>& v);

 private:
  std::string path_;
  Handle h_;
  [[noreturn]] void Fail(const std::string& what) const;
  // Opens dataset `name` (Fail names it when missing) and stores its dimensions in `dims`.
  Handle OpenDataset(const std::string& name, std::vector<hsize_t>* dims) const;
};

}  // namespace amrs::data::h5
