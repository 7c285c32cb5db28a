# Fuzz targets for jid/ and sasl/, included by tests/fuzz/CMakeLists.txt.
# Run e.g.: build/tests/fuzz/jid_fuzz -max_total_time=60 <corpus dir>
if(XMESH_FUZZ)
  foreach(name jid_fuzz scram_fuzz)
    add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.cc)
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  endforeach()
  target_link_libraries(jid_fuzz PRIVATE xmesh_jid xmesh_warnings)
  target_link_libraries(scram_fuzz PRIVATE xmesh_sasl xmesh_warnings)
endif()
