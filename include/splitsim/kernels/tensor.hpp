// Memory that one backend's kernels read and write: an owning, move-only buffer of typed elements
// on the host (CPU backend) or on one GPU (CUDA backend). The backend allocates it and frees it when
// the Tensor goes out of scope (RAII, after CUTLASS's DeviceAllocation).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace splitsim::kernels {

enum class DType { fp32, fp16, bf16, int32 };

constexpr std::size_t size_of(DType t) {
    switch (t) {
        case DType::fp32:
        case DType::int32: return 4;
        case DType::fp16:
        case DType::bf16: return 2;
    }
    return 4;
}

constexpr std::string_view to_string(DType t) {
    switch (t) {
        case DType::fp32: return "fp32";
        case DType::fp16: return "fp16";
        case DType::bf16: return "bf16";
        case DType::int32: return "int32";
    }
    return "?";
}

// Unit round-off of a format: half the distance from 1 to the next value (2^-24 for fp32).
constexpr double unit_roundoff(DType t) {
    switch (t) {
        case DType::fp32: return 0x1p-24;
        case DType::fp16: return 0x1p-11;
        case DType::bf16: return 0x1p-8;
        case DType::int32: return 0.0;
    }
    return 0.0;
}

enum class Location { host, device };

// What owns the bytes; each backend derives its own (host vector, cudaMalloc'ed memory).
class Storage {
public:
    Storage() = default;
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;
    virtual ~Storage() = default;
    [[nodiscard]] virtual void* data() = 0;
};

// Bytes another tensor owns (a view's).
class BorrowedStorage final : public Storage {
public:
    explicit BorrowedStorage(void* data) : data_(data) {}
    [[nodiscard]] void* data() override { return data_; }

private:
    void* data_;
};

class Tensor {
public:
    Tensor() = default;
    Tensor(std::unique_ptr<Storage> storage, std::size_t elements, DType dtype, Location location, int device)
        : storage_(std::move(storage)), elements_(elements), dtype_(dtype), location_(location), device_(device) {}

    [[nodiscard]] void* data() { return storage_ ? storage_->data() : nullptr; }
    [[nodiscard]] const void* data() const { return storage_ ? storage_->data() : nullptr; }
    [[nodiscard]] std::size_t elements() const { return elements_; }
    [[nodiscard]] std::size_t bytes() const { return elements_ * size_of(dtype_); }
    [[nodiscard]] DType dtype() const { return dtype_; }
    [[nodiscard]] Location location() const { return location_; }
    [[nodiscard]] int device() const { return device_; }  // GPU ordinal; -1 on the host

    // `elements` elements of this tensor from `offset` on, lent without ownership: the view must not
    // outlive this tensor (as a std::span must not outlive its array). Collectives and kernels take
    // views like any tensor, so one flat buffer can hold many parameters.
    [[nodiscard]] Tensor view(std::size_t offset, std::size_t elements);

    // Typed host access; only for host tensors of the matching type (a programming error otherwise).
    template <class T>
    [[nodiscard]] T* host() {
        require_host(sizeof(T));
        return static_cast<T*>(data());
    }
    template <class T>
    [[nodiscard]] const T* host() const {
        require_host(sizeof(T));
        return static_cast<const T*>(data());
    }

private:
    void require_host(std::size_t element) const {
        if (location_ != Location::host || element != size_of(dtype_)) {
            throw std::logic_error("host access to a " + std::string(to_string(dtype_)) + " tensor that is not on the host");
        }
    }

    std::unique_ptr<Storage> storage_;
    std::size_t elements_ = 0;
    DType dtype_ = DType::fp32;
    Location location_ = Location::host;
    int device_ = -1;
};

inline Tensor Tensor::view(std::size_t offset, std::size_t elements) {
    if (offset > elements_ || elements > elements_ - offset) {
        throw std::out_of_range("view of elements [" + std::to_string(offset) + ", " + std::to_string(offset + elements) +
                                ") of a tensor of " + std::to_string(elements_));
    }
    auto* base = static_cast<unsigned char*>(data()) + offset * size_of(dtype_);
    return Tensor(std::make_unique<BorrowedStorage>(base), elements, dtype_, location_, device_);
}

}  // namespace splitsim::kernels
