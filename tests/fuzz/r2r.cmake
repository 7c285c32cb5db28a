# Fuzz target for r2r/, included by tests/fuzz/CMakeLists.txt.
# Run e.g.: build-fuzz/tests/fuzz/r2r_fuzz -max_total_time=60 tests/r2r/fuzz_corpus
if(XMESH_FUZZ)
  add_executable(r2r_fuzz ${CMAKE_CURRENT_LIST_DIR}/r2r_fuzz.cc)
  target_compile_options(r2r_fuzz PRIVATE -fsanitize=fuzzer)
  target_link_options(r2r_fuzz PRIVATE -fsanitize=fuzzer)
  target_link_libraries(r2r_fuzz PRIVATE xmesh_r2r xmesh_warnings)
endif()
