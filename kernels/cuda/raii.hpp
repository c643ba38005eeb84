// Owners of CUDA resources (after CUTLASS's DeviceAllocation): device memory, streams, events,
// executable graphs and the device selection. Each is move-only and releases its resource on destruction; a destructor
// cannot throw, so a failure there is reported on stderr and otherwise ignored.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdio>
#include <utility>

#include "check.hpp"

namespace splitsim::kernels::cuda {

inline void report_in_destructor(const char* what, cudaError_t rc) {
    if (rc != cudaSuccess) std::fprintf(stderr, "splitsim: %s failed: %s\n", what, cudaGetErrorString(rc));
}

// Makes `device` current for a scope and restores the previous device after it.
class DeviceGuard {
public:
    explicit DeviceGuard(int device) {
        CHECK_CUDA(cudaGetDevice(&previous_));
        if (previous_ != device) CHECK_CUDA(cudaSetDevice(device));
    }
    ~DeviceGuard() { report_in_destructor("cudaSetDevice", cudaSetDevice(previous_)); }
    DeviceGuard(const DeviceGuard&) = delete;
    DeviceGuard& operator=(const DeviceGuard&) = delete;

private:
    int previous_ = 0;
};

// Bytes of device memory on the current device.
class DeviceAllocation {
public:
    DeviceAllocation() = default;
    explicit DeviceAllocation(std::size_t bytes) : bytes_(bytes) {
        if (bytes > 0) CHECK_CUDA(cudaMalloc(&ptr_, bytes));
    }
    ~DeviceAllocation() { reset(); }
    DeviceAllocation(DeviceAllocation&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
    DeviceAllocation& operator=(DeviceAllocation&& o) noexcept {
        if (this != &o) {
            reset();
            ptr_ = std::exchange(o.ptr_, nullptr);
            bytes_ = std::exchange(o.bytes_, 0);
        }
        return *this;
    }
    DeviceAllocation(const DeviceAllocation&) = delete;
    DeviceAllocation& operator=(const DeviceAllocation&) = delete;

    [[nodiscard]] void* get() const { return ptr_; }
    [[nodiscard]] std::size_t bytes() const { return bytes_; }
    void reset() {
        if (ptr_ != nullptr) report_in_destructor("cudaFree", cudaFree(ptr_));
        ptr_ = nullptr;
        bytes_ = 0;
    }

private:
    void* ptr_ = nullptr;
    std::size_t bytes_ = 0;
};

class Stream {
public:
    Stream() { CHECK_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
    ~Stream() {
        if (stream_ != nullptr) report_in_destructor("cudaStreamDestroy", cudaStreamDestroy(stream_));
    }
    Stream(Stream&& o) noexcept : stream_(std::exchange(o.stream_, nullptr)) {}
    Stream& operator=(Stream&&) = delete;
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    [[nodiscard]] cudaStream_t get() const { return stream_; }

private:
    cudaStream_t stream_ = nullptr;
};

class Event {
public:
    Event() { CHECK_CUDA(cudaEventCreate(&event_)); }
    ~Event() {
        if (event_ != nullptr) report_in_destructor("cudaEventDestroy", cudaEventDestroy(event_));
    }
    Event(Event&& o) noexcept : event_(std::exchange(o.event_, nullptr)) {}
    Event& operator=(Event&&) = delete;
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;
    [[nodiscard]] cudaEvent_t get() const { return event_; }

private:
    cudaEvent_t event_ = nullptr;
};

// A CUDA graph instantiated for launching (cudaGraphExec_t); the graph it was made from is not kept.
class GraphExec {
public:
    explicit GraphExec(cudaGraphExec_t exec) : exec_(exec) {}
    ~GraphExec() {
        if (exec_ != nullptr) report_in_destructor("cudaGraphExecDestroy", cudaGraphExecDestroy(exec_));
    }
    GraphExec(GraphExec&& o) noexcept : exec_(std::exchange(o.exec_, nullptr)) {}
    GraphExec& operator=(GraphExec&&) = delete;
    GraphExec(const GraphExec&) = delete;
    GraphExec& operator=(const GraphExec&) = delete;
    [[nodiscard]] cudaGraphExec_t get() const { return exec_; }

private:
    cudaGraphExec_t exec_ = nullptr;
};

}  // namespace splitsim::kernels::cuda
