# VmTest.cmake — ctest tests that run a bash script as root inside a qemu (TCG)
# guest booting Debian's 6.12 kernel (ublk, dm-verity, nvmet, netem), with the
# host's / as the guest's root. See tests/vm/run-vm.sh.
#
#   include(VmTest)   # or include(${PROJECT_SOURCE_DIR}/cmake/VmTest.cmake)
#   add_vm_test(NAME SCRIPT
#               [TIMEOUT secs]          # whole VM incl. boot; default 600
#               [MEM mb] [SMP n]        # default 2048 / 2
#               [FWD gport:hport ...]   # guest 10.0.2.100:gport -> host 127.0.0.1:hport
#               [ENV NAME=VALUE ...]    # extra variables for the guest script
#               [HOST_WRAPPER script]   # host-side script run as: script <run-vm.sh command...>
#               [KERNEL k2]             # the second guest kernel (run-vm.sh --kernel k2)
#               [LABELS label ...])     # added to the "vm" label
#
# Registers ctest test "vm.NAME": runs SCRIPT (relative to the calling
# CMakeLists.txt's directory unless absolute) with bash in the guest, cwd =
# ${CMAKE_BINARY_DIR}/vmtests/NAME (emptied at the start, kept afterwards:
# console.log there has the whole guest console). The guest script sees
# LAZYROOT_BUILD_DIR=${CMAKE_BINARY_DIR} and LAZYROOT_SOURCE_DIR=<repo root>
# besides the variables run-vm.sh always sets. All vm tests need the fixture
# test "vm.kernel" (downloads the kernel once, builds the initramfs) and are
# RUN_SERIAL. A HOST_WRAPPER starts host-side servers, then runs "$@" with
# extra options appended (e.g. --fwd 80:$port --env KEY=VALUE); it also gets
# LAZYROOT_VM_WORKDIR in its environment.
#
# KERNEL k2 boots the newest trixie-backports kernel instead of 6.12 and
# needs the fixture test "vm.kernel_k2" instead (label extended, like every k2 test).
#
# Cache variable LAZYROOT_VM_CACHE: where the kernel and initramfs live
# (default: run-vm.sh's <repo>/build/vm, shared by all build dirs).
include_guard(GLOBAL)

get_filename_component(LAZYROOT_VM_SCRIPTS_DIR "${CMAKE_CURRENT_LIST_DIR}/../tests/vm" ABSOLUTE)
get_filename_component(LAZYROOT_VM_REPO_DIR "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(LAZYROOT_VM_CACHE "$ENV{LAZYROOT_VM_CACHE}" CACHE PATH
    "Kernel/initramfs cache for VM tests (empty: <repo>/build/vm)")

function(_lazyroot_vm_env out)
  set(env "LAZYROOT_BUILD_DIR=${CMAKE_BINARY_DIR}" "LAZYROOT_SOURCE_DIR=${LAZYROOT_VM_REPO_DIR}")
  if(LAZYROOT_VM_CACHE)
    list(APPEND env "LAZYROOT_VM_CACHE=${LAZYROOT_VM_CACHE}")
  endif()
  set(${out} "${env}" PARENT_SCOPE)
endfunction()

# The fixture: fetch the kernel and build the initramfs once, before any VM
# test, so parallel ctest runs never race on the download. KERNEL is "" (6.12)
# or k2 (the second kernel: fixture lazyroot_vm_kernel_k2, test vm.kernel_k2).
function(_lazyroot_vm_fixture kernel)
  get_property(done GLOBAL PROPERTY _LAZYROOT_VM_FIXTURE_DONE${kernel})
  if(done)
    return()
  endif()
  set_property(GLOBAL PROPERTY _LAZYROOT_VM_FIXTURE_DONE${kernel} TRUE)
  _lazyroot_vm_env(env)
  if(kernel)
    add_test(NAME vm.kernel_${kernel} COMMAND "${LAZYROOT_VM_SCRIPTS_DIR}/run-vm.sh" --prepare --kernel ${kernel})
    set_tests_properties(vm.kernel_${kernel} PROPERTIES
      FIXTURES_SETUP lazyroot_vm_kernel_${kernel}
      LABELS "vm;extended"
      TIMEOUT 1200
      ENVIRONMENT "${env}")
    return()
  endif()
  add_test(NAME vm.kernel COMMAND "${LAZYROOT_VM_SCRIPTS_DIR}/run-vm.sh" --prepare)
  set_tests_properties(vm.kernel PROPERTIES
    FIXTURES_SETUP lazyroot_vm_kernel
    LABELS vm
    TIMEOUT 1200
    ENVIRONMENT "${env}")
  # Same thing as a build target: `cmake --build . --target vm-kernel`.
  add_custom_target(vm-kernel
    COMMAND ${CMAKE_COMMAND} -E env ${env} "${LAZYROOT_VM_SCRIPTS_DIR}/run-vm.sh" --prepare
    USES_TERMINAL
    COMMENT "Fetching the VM test kernel and building the initramfs")
endfunction()

function(add_vm_test name script)
  cmake_parse_arguments(PARSE_ARGV 2 VM "" "TIMEOUT;MEM;SMP;HOST_WRAPPER;KERNEL" "FWD;ENV;LABELS")
  if(VM_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "add_vm_test(${name}): unknown arguments ${VM_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT VM_TIMEOUT)
    set(VM_TIMEOUT 600)
  endif()
  get_filename_component(script "${script}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  set(workdir "${CMAKE_BINARY_DIR}/vmtests/${name}")

  if(VM_KERNEL AND NOT VM_KERNEL STREQUAL "k2")
    message(FATAL_ERROR "add_vm_test(${name}): KERNEL must be k2")
  endif()
  _lazyroot_vm_fixture("${VM_KERNEL}")
  _lazyroot_vm_env(env)
  set(fixture lazyroot_vm_kernel)

  set(cmd "${LAZYROOT_VM_SCRIPTS_DIR}/run-vm.sh" --clean --timeout ${VM_TIMEOUT})
  if(VM_KERNEL)
    list(APPEND cmd --kernel ${VM_KERNEL})
    set(fixture lazyroot_vm_kernel_${VM_KERNEL})
    list(APPEND VM_LABELS extended)
  endif()
  if(VM_MEM)
    list(APPEND cmd --mem ${VM_MEM})
  endif()
  if(VM_SMP)
    list(APPEND cmd --smp ${VM_SMP})
  endif()
  foreach(f IN LISTS VM_FWD)
    list(APPEND cmd --fwd ${f})
  endforeach()
  list(APPEND cmd --env "LAZYROOT_BUILD_DIR=${CMAKE_BINARY_DIR}"
                  --env "LAZYROOT_SOURCE_DIR=${LAZYROOT_VM_REPO_DIR}")
  foreach(e IN LISTS VM_ENV)
    list(APPEND cmd --env "${e}")
  endforeach()
  list(APPEND cmd "${script}" "${workdir}")
  if(VM_HOST_WRAPPER)
    get_filename_component(wrapper "${VM_HOST_WRAPPER}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    list(PREPEND cmd "${wrapper}")
  endif()

  # run-vm.sh enforces VM_TIMEOUT itself (and prints the console); ctest's
  # limit is only a backstop.
  math(EXPR ctest_timeout "${VM_TIMEOUT} + 60")
  set(labels vm ${VM_LABELS})

  add_test(NAME vm.${name} COMMAND ${cmd})
  set_tests_properties(vm.${name} PROPERTIES
    LABELS "${labels}"
    RUN_SERIAL TRUE
    FIXTURES_REQUIRED ${fixture}
    TIMEOUT ${ctest_timeout}
    ENVIRONMENT "${env};LAZYROOT_VM_WORKDIR=${workdir}")
endfunction()
