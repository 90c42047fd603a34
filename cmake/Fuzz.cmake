# libFuzzer targets: built only with -DLAZYROOT_FUZZ=ON and clang, each
# registered as a bounded ctest run labelled `fuzz` (ctest -L fuzz).
option(LAZYROOT_FUZZ "Build the libFuzzer targets and their bounded runs (needs clang)" OFF)
set(LAZYROOT_FUZZ_SECONDS 60 CACHE STRING "Seconds each fuzzer runs under ctest")
add_custom_target(fuzzers)
if(LAZYROOT_FUZZ AND NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "LAZYROOT_FUZZ needs clang: configure with CXX=clang++")
endif()

# lazyroot_add_fuzzer(NAME SOURCES <files…> [LIBS <targets…>] [SEEDS <dir>] [DICT <file>])
# The code under test goes in SOURCES rather than LIBS so that it is
# instrumented for coverage; the rest of the build stays plain.
function(lazyroot_add_fuzzer name)
  if(NOT LAZYROOT_FUZZ)
    return()
  endif()
  cmake_parse_arguments(F "" "SEEDS;DICT" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${F_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined
                                         -fno-sanitize-recover=undefined)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(${name} PRIVATE ${F_LIBS})
  add_dependencies(fuzzers ${name})
  set(corpus ${CMAKE_CURRENT_BINARY_DIR}/${name}.corpus)
  set(seeds "")
  if(F_SEEDS)
    set(seeds ${CMAKE_CURRENT_SOURCE_DIR}/${F_SEEDS})
  endif()
  set(dict "")
  if(F_DICT)
    set(dict -dict=${CMAKE_CURRENT_SOURCE_DIR}/${F_DICT})
  endif()
  # A crash, leak or sanitizer report makes the fuzzer exit non-zero.
  add_test(NAME fuzz.${name}
           COMMAND sh -c "mkdir -p \"$1\" && exec \"$2\" -max_total_time=$3 -print_final_stats=1 $5 \"$1\" $4"
                   fuzz ${corpus} $<TARGET_FILE:${name}> ${LAZYROOT_FUZZ_SECONDS} "${seeds}" "${dict}")
  math(EXPR timeout "${LAZYROOT_FUZZ_SECONDS} * 2 + 120")
  set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz TIMEOUT ${timeout})
endfunction()
