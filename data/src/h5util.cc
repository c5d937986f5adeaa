#include "h5util.h"


#include <algorithm>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace amrs::data::h5 {
namespace {

struct Quiet {
  Quiet() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};
const Quiet quiet_errors;

// Every object this project writes: no timestamps (same input, same bytes), attributes and links
// kept in the object header (checksummed) instead of dense storage.
// Parent groups are created one by one with ObjectCreatePlist (HDF5's intermediate groups would
// get default properties: modification times in their headers, so that two runs writing the same
// content would differ in bytes).
void EnsureParent(File& f, const std::string& name) {
  const auto slash = name.rfind('/');
  if (slash != std::string::npos && slash > 0) f.Group(name.substr(0, slash));
}

Handle ObjectCreatePlist(hid_t cls) {
  Handle p(H5Pcreate(cls), H5Pclose);
  H5Pset_obj_track_times(p.get(), 0);
  H5Pset_attr_phase_change(p.get(), kMaxCompact, kMaxCompact);
  if (cls == H5P_FILE_CREATE || cls == H5P_GROUP_CREATE) H5Pset_link_phase_change(p.get(), kMaxCompact, kMaxCompact);
  return p;
}

// A fixed-length UTF-8 string type of `bytes` (at least 1), NUL-padded: a string of exactly
// `bytes` bytes has no terminator, so readers bound it by the type's size.
Handle FixedString(std::size_t bytes) {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), std::max<std::size_t>(1, bytes));
  H5Tset_strpad(t.get(), H5T_STR_NULLPAD);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  return t;
}

// Whether `count` elements of `elem_bytes` are more than the file at `path` can hold: this format
// writes every chunk, compressed at most ~1032:1 (deflate's limit), so a logical size beyond 1100 x
// the file's size (+1 MiB) is a corrupt shape; allocating it would fail or exhaust memory (found by
// fuzz_dataset: std::bad_alloc, length_error). Sets *file_bytes; false if the size is unknown.
bool BeyondFile(const std::string& path, hsize_t count, std::size_t elem_bytes, hsize_t* file_bytes) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return false;
  *file_bytes = static_cast<hsize_t>(size);
  return count > (hsize_t{1} << 40) / elem_bytes || count * elem_bytes > 1100 * *file_bytes + (hsize_t{1} << 20);
}

}  // namespace

void File::Fail(const std::string& what) const { throw InputError(path_ + ": " + what); }

void CheckContainer(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[9] = {};
  in.read(head, sizeof head);
  static const char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  if (in.gcount() < static_cast<std::streamsize>(sizeof head) || std::memcmp(head, kSignature, 8) != 0)
    throw InputError(path + ": not an HDF5 file written by amrs (no HDF5 signature at its start; truncated or corrupt?)");
  const int version = static_cast<unsigned char>(head[8]);
  if (version < kMinSuperblockVersion)
    throw InputError(path + ": HDF5 superblock version " + std::to_string(version) +
                     " has no metadata checksums; amrs reads only files in the checksummed layout it writes "
                     "(HDF5 1.10 'latest' format, superblock version " + std::to_string(kMinSuperblockVersion) +
                     "): re-create it with this version of amrs (generate, import, rollout), or from h5py with "
                     "libver='latest' (docs/data-format.md)");
  if (version > 3)
    throw InputError(path + ": HDF5 superblock version " + std::to_string(version) + " is unknown (corrupt?)");
}

File File::Open(const std::string& path) {
  File f;
  f.path_ = path;
  if (!std::filesystem::exists(path)) f.Fail("no such file");
  // Checked before HDF5 parses anything: only the layout whose metadata HDF5 verifies by checksum
  // (crashes inside HDF5 1.10 on corrupt files of the older layout: docs/reliability.md).
  CheckContainer(path);
  if (H5Fis_hdf5(path.c_str()) <= 0)
    f.Fail("not an HDF5 file (truncated or corrupt?)");
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) f.Fail("cannot open as HDF5 (truncated or corrupt?)");
  f.h_ = Handle(id, H5Fclose);
  return f;
}

File File::Create(const std::string& path) {
  File f;
  f.path_ = path;
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
  Handle fcpl = ObjectCreatePlist(H5P_FILE_CREATE);
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get());
  if (id < 0) f.Fail("cannot create file");
  f.h_ = Handle(id, H5Fclose);
  return f;
}

bool File::Exists(const std::string& name) const {
  // Check each path component so that a missing parent is not an error.
  std::string partial;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    std::size_t next = name.find('/', pos + 1);
    partial = name.substr(0, next);
    if (!partial.empty() && partial != "/") {
      if (H5Lexists(h_.get(), partial.c_str(), H5P_DEFAULT) <= 0) return false;
    }
    pos = next;
  }
  return true;
}

std::vector<std::string> File::Children(const std::string& group) const {
  std::vector<std::string> out;
  Handle g(H5Gopen2(h_.get(), group.c_str(), H5P_DEFAULT), H5Gclose);
  if (!g.valid()) Fail("missing group '" + group + "'");
  H5G_info_t info;
  if (H5Gget_info(g.get(), &info) < 0) Fail("cannot list group '" + group + "' (corrupt?)");
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t n = H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0,
                                   H5P_DEFAULT);
    // A failed lookup is -1: it must not become a size (found by fuzz_dataset).
    if (n < 0) Fail("cannot read the name of entry " + std::to_string(i) + " of group '" + group + "' (corrupt?)");
    std::string s(static_cast<std::size_t>(n), '\0');
    H5Lget_name_by_idx(g.get(), ".", H5_INDEX_NAME, H5_ITER_INC, i, s.data(), n + 1,
                       H5P_DEFAULT);
    out.push_back(s);
  }
  return out;
}

std::vector<hsize_t> File::Shape(const std::string& name) const {
  std::vector<hsize_t> dims;
  OpenDataset(name, &dims);
  return dims;
}

Handle File::OpenDataset(const std::string& name, std::vector<hsize_t>* dims) const {
  Handle ds(H5Dopen2(h_.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.valid()) Fail("missing dataset '" + name + "'");
  Handle sp(H5Dget_space(ds.get()), H5Sclose);
  const int nd = H5Sget_simple_extent_ndims(sp.get());
  dims->assign(nd > 0 ? static_cast<std::size_t>(nd) : 0, 0);
  if (nd > 0) H5Sget_simple_extent_dims(sp.get(), dims->data(), nullptr);
  return ds;
}

template <typename T>
std::vector<T> File::Read(const std::string& name, std::vector<hsize_t>* shape) const {
  std::vector<hsize_t> dims;
  Handle ds = OpenDataset(name, &dims);
  hsize_t n = 1;
  for (auto d : dims) n *= d;
  // Reject type classes that cannot convert (e.g. strings where numbers are expected).
  Handle ft(H5Dget_type(ds.get()), H5Tclose);
  H5T_class_t cls = H5Tget_class(ft.get());
  if (cls != H5T_INTEGER && cls != H5T_FLOAT)
    Fail("dataset '" + name + "' has a non-numeric type");
  // Only the standard integer and IEEE float types: HDF5 1.10 converts a malformed float type
  // (e.g. a size that does not match its bit fields) past its buffers (found by fuzz_dataset).
  const hid_t standard[] = {H5T_IEEE_F32LE, H5T_IEEE_F32BE, H5T_IEEE_F64LE, H5T_IEEE_F64BE,
                            H5T_STD_I8LE,   H5T_STD_I8BE,   H5T_STD_I16LE,  H5T_STD_I16BE,
                            H5T_STD_I32LE,  H5T_STD_I32BE,  H5T_STD_I64LE,  H5T_STD_I64BE,
                            H5T_STD_U8LE,   H5T_STD_U8BE,   H5T_STD_U16LE,  H5T_STD_U16BE,
                            H5T_STD_U32LE,  H5T_STD_U32BE,  H5T_STD_U64LE,  H5T_STD_U64BE};
  if (std::none_of(std::begin(standard), std::end(standard), [&](hid_t t) { return H5Tequal(ft.get(), t) > 0; }))
    Fail("dataset '" + name + "' has a non-standard numeric type (not an IEEE float or a standard integer)");
  // A compact or contiguous dataset must store every element its shape promises: HDF5 1.10 does
  // not check and reads past its buffer (found by fuzz_dataset; tests/fuzz/crashes/dataset).
  if (n > 0) {
    Handle dcpl(H5Dget_create_plist(ds.get()), H5Pclose);
    const H5D_layout_t layout = H5Pget_layout(dcpl.get());
    const hsize_t need = n * static_cast<hsize_t>(H5Tget_size(ft.get()));
    const hsize_t stored = H5Dget_storage_size(ds.get());
    if ((layout == H5D_COMPACT || layout == H5D_CONTIGUOUS) && stored < need)
      Fail("dataset '" + name + "' stores " + std::to_string(stored) + " bytes, its shape needs " +
           std::to_string(need) + " (truncated or corrupt)");
  }
  hsize_t file_bytes = 0;
  if (n > 0 && BeyondFile(path_, n, sizeof(T), &file_bytes))
    Fail("dataset '" + name + "' claims " + std::to_string(n) + " elements, more than a file of " +
         std::to_string(file_bytes) + " bytes can hold (corrupt shape)");
  std::vector<T> out;
  try {
    out.resize(n);
  } catch (const std::exception&) {  // std::bad_alloc, std::length_error
    Fail("dataset '" + name + "' claims " + std::to_string(n) + " elements: too large for this machine's memory");
  }
  if (n > 0 && H5Dread(ds.get(), MemType<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
    Fail("cannot read dataset '" + name + "' (truncated or corrupt?)");
  if (shape) *shape = dims;
  return out;
}

template <typename T>
void File::Write(const std::string& name, const std::vector<T>& data, std::vector<hsize_t> shape) {
  if (shape.empty()) shape = {static_cast<hsize_t>(data.size())};
  Handle sp(H5Screate_simple(static_cast<int>(shape.size()), shape.data(), nullptr), H5Sclose);
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  Handle dcpl = ObjectCreatePlist(H5P_DATASET_CREATE);
  if (!data.empty()) {
    std::vector<hsize_t> chunk = shape;
    const hsize_t row = shape.size() > 1 ? shape[1] : 1;
    chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(shape[0], (1 << 18) / row));
    H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
    H5Pset_shuffle(dcpl.get());
    H5Pset_deflate(dcpl.get(), 1);
    H5Pset_fletcher32(dcpl.get());  // besides zlib's Adler-32: a corrupt chunk fails to read
  }
  EnsureParent(*this, name);
  Handle ds(H5Dcreate2(h_.get(), name.c_str(), MemType<T>(), sp.get(), lcpl.get(), dcpl.get(),
                       H5P_DEFAULT),
            H5Dclose);
  if (!ds.valid()) Fail("cannot create dataset '" + name + "'");
  if (!data.empty() &&
      H5Dwrite(ds.get(), MemType<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()) < 0)
    Fail("cannot write dataset '" + name + "'");
}

void File::Group(const std::string& name) {
  if (Exists(name)) return;
  EnsureParent(*this, name);
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  Handle gcpl = ObjectCreatePlist(H5P_GROUP_CREATE);
  Handle g(H5Gcreate2(h_.get(), name.c_str(), lcpl.get(), gcpl.get(), H5P_DEFAULT), H5Gclose);
  if (!g.valid()) Fail("cannot create group '" + name + "'");
}

bool File::HasAttr(const std::string& obj, const std::string& attr) const {
  return H5Aexists_by_name(h_.get(), obj.c_str(), attr.c_str(), H5P_DEFAULT) > 0;
}

std::string File::ReadStringAttr(const std::string& obj, const std::string& attr) const {
  Handle a(H5Aopen_by_name(h_.get(), obj.c_str(), attr.c_str(), H5P_DEFAULT, H5P_DEFAULT),
           H5Aclose);
  if (!a.valid()) Fail("missing attribute '" + attr + "' on '" + obj + "'");
  Handle t(H5Aget_type(a.get()), H5Tclose);
  if (H5Tget_class(t.get()) != H5T_STRING) Fail("attribute '" + attr + "' is not a string");
  // Fixed-length only: HDF5 1.10 reads variable-length strings from its global heap, whose
  // blocks carry no checksum (overflows inside H5HG_read on corrupt files, found by fuzz_dataset).
  if (H5Tis_variable_str(t.get()) != 0)
    Fail("attribute '" + attr + "' on '" + obj + "' is a variable-length string; amrs writes and reads fixed-length strings only");
  std::size_t n = H5Tget_size(t.get());
  if (n == 0 || n > kMaxStringBytes) Fail("attribute '" + attr + "' on '" + obj + "' has a string size of " + std::to_string(n) + " bytes (corrupt?)");
  Handle sp(H5Aget_space(a.get()), H5Sclose);
  if (H5Sget_simple_extent_npoints(sp.get()) != 1) Fail("attribute '" + attr + "' on '" + obj + "' is not a single string");
  std::string out(n, '\0');
  if (H5Aread(a.get(), t.get(), out.data()) < 0) Fail("cannot read attribute '" + attr + "'");
  out.resize(strnlen(out.data(), n));
  return out;
}

void File::WriteStringAttr(const std::string& obj, const std::string& attr,
                           const std::string& v) {
  Handle t = FixedString(v.size());
  Handle sp(H5Screate(H5S_SCALAR), H5Sclose);
  if (HasAttr(obj, attr)) H5Adelete_by_name(h_.get(), obj.c_str(), attr.c_str(), H5P_DEFAULT);
  Handle a(H5Acreate_by_name(h_.get(), obj.c_str(), attr.c_str(), t.get(), sp.get(), H5P_DEFAULT,
                             H5P_DEFAULT, H5P_DEFAULT),
           H5Aclose);
  std::string padded = v;
  padded.resize(std::max<std::size_t>(1, v.size()), '\0');
  if (!a.valid() || H5Awrite(a.get(), t.get(), padded.data()) < 0)
    Fail("cannot write attribute '" + attr + "' on '" + obj + "'");
}

template <typename T>
T File::ReadScalarAttr(const std::string& obj, const std::string& attr) const {
  Handle a(H5Aopen_by_name(h_.get(), obj.c_str(), attr.c_str(), H5P_DEFAULT, H5P_DEFAULT),
           H5Aclose);
  if (!a.valid()) Fail("missing attribute '" + attr + "' on '" + obj + "'");
  Handle t(H5Aget_type(a.get()), H5Tclose);
  H5T_class_t cls = H5Tget_class(t.get());
  if (cls != H5T_INTEGER && cls != H5T_FLOAT)
    Fail("attribute '" + attr + "' on '" + obj + "' is not numeric");
  T v{};
  if (H5Aread(a.get(), MemType<T>(), &v) < 0) Fail("cannot read attribute '" + attr + "'");
  return v;
}

template <typename T>
void File::WriteScalarAttr(const std::string& obj, const std::string& attr, T v) {
  Handle sp(H5Screate(H5S_SCALAR), H5Sclose);
  if (HasAttr(obj, attr)) H5Adelete_by_name(h_.get(), obj.c_str(), attr.c_str(), H5P_DEFAULT);
  Handle a(H5Acreate_by_name(h_.get(), obj.c_str(), attr.c_str(), MemType<T>(), sp.get(),
                             H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
           H5Aclose);
  if (!a.valid() || H5Awrite(a.get(), MemType<T>(), &v) < 0)
    Fail("cannot write attribute '" + attr + "' on '" + obj + "'");
}

std::vector<std::string> File::ReadStrings(const std::string& name) const {
  Handle ds(H5Dopen2(h_.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!ds.valid()) Fail("missing dataset '" + name + "'");
  Handle sp(H5Dget_space(ds.get()), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(sp.get());
  Handle ft(H5Dget_type(ds.get()), H5Tclose);
  if (H5Tget_class(ft.get()) != H5T_STRING) Fail("dataset '" + name + "' is not a string list");
  if (H5Tis_variable_str(ft.get()) != 0)
    Fail("dataset '" + name + "' holds variable-length strings; amrs writes and reads fixed-length strings only");
  const std::size_t width = H5Tget_size(ft.get());
  if (n < 0 || width == 0 || width > kMaxStringBytes) Fail("dataset '" + name + "' has a corrupt string size or count");
  hsize_t file_bytes = 0;
  if (BeyondFile(path_, static_cast<hsize_t>(n), width, &file_bytes))
    Fail("dataset '" + name + "' claims " + std::to_string(n) + " strings of " + std::to_string(width) +
         " bytes, more than a file of " + std::to_string(file_bytes) + " bytes can hold (corrupt shape)");
  std::vector<char> raw(static_cast<std::size_t>(n) * width, '\0');
  if (n > 0 && H5Dread(ds.get(), ft.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()) < 0)
    Fail("cannot read dataset '" + name + "' (truncated or corrupt?)");
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(n));
  for (hssize_t i = 0; i < n; ++i) {
    const char* s = raw.data() + static_cast<std::size_t>(i) * width;
    out.emplace_back(s, strnlen(s, width));
  }
  return out;
}

void File::WriteStrings(const std::string& name, const std::vector<std::string>& v) {
  std::size_t width = 1;
  for (const auto& s : v) width = std::max(width, s.size());
  Handle t = FixedString(width);
  hsize_t n = v.size();
  Handle sp(H5Screate_simple(1, &n, nullptr), H5Sclose);
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  // Small lists live in the object header (checksummed with it), larger ones in chunks with a
  // Fletcher-32 checksum each.
  Handle dcpl = ObjectCreatePlist(H5P_DATASET_CREATE);
  if (n * width <= kMaxCompactBytes) {
    H5Pset_layout(dcpl.get(), H5D_COMPACT);
  } else {
    const hsize_t chunk = std::max<hsize_t>(1, std::min<hsize_t>(n, (1 << 18) / width));
    H5Pset_chunk(dcpl.get(), 1, &chunk);
    H5Pset_fletcher32(dcpl.get());
  }
  EnsureParent(*this, name);
  Handle ds(H5Dcreate2(h_.get(), name.c_str(), t.get(), sp.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
            H5Dclose);
  std::vector<char> raw(v.size() * width, '\0');
  for (std::size_t i = 0; i < v.size(); ++i) std::memcpy(raw.data() + i * width, v[i].data(), v[i].size());
  if (!ds.valid() || (n > 0 && H5Dwrite(ds.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()) < 0))
    Fail("cannot write dataset '" + name + "'");
}

#define AMRS_H5_INSTANTIATE(T)                                                              \
  template std::vector<T> File::Read<T>(const std::string&, std::vector<hsize_t>*) const; \
  template void File::Write<T>(const std::string&, const std::vector<T>&,                 \
                               std::vector<hsize_t>);                                     \
  template T File::ReadScalarAttr<T>(const std::string&, const std::string&) const;      \
  template void File::WriteScalarAttr<T>(const std::string&, const std::string&, T);
AMRS_H5_INSTANTIATE(float)
AMRS_H5_INSTANTIATE(double)
AMRS_H5_INSTANTIATE(std::int8_t)
AMRS_H5_INSTANTIATE(std::uint8_t)
AMRS_H5_INSTANTIATE(std::int32_t)
AMRS_H5_INSTANTIATE(std::int64_t)
AMRS_H5_INSTANTIATE(std::uint64_t)
#undef AMRS_H5_INSTANTIATE

}  // namespace amrs::data::h5
