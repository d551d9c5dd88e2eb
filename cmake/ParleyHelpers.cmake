# parley_library(NAME SOURCES ... DEPS ...): one static library per shared lib,
# public headers under include/, built into target parley_<NAME>.
function(parley_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(parley_${name} STATIC ${ARG_SOURCES})
  target_include_directories(parley_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(parley_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  add_library(parley::${name} ALIAS parley_${name})
endfunction()

# parley_embed_sql(TARGET DIR NAMESPACE): compiles every DIR/NNNN_*.sql into
# the target as an ordered list of migrations (see parley/pg/migrations.h), so
# binaries carry their schema and need no files at run time.
function(parley_embed_sql target dir fn_name)
  file(GLOB sql_files CONFIGURE_DEPENDS ${dir}/*.sql)
  list(SORT sql_files)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${target}_migrations.cc)
  set(body "// Generated from ${dir}; do not edit.\n#include \"parley/pg/migrations.h\"\n")
  string(APPEND body "namespace parley::pg {\nconst std::vector<Migration>& ${fn_name}() {\n  static const std::vector<Migration> kMigrations = {\n")
  foreach(f ${sql_files})
    get_filename_component(fname ${f} NAME_WE)
    string(REGEX MATCH "^[0-9]+" version ${fname})
    # A decimal literal: 0008 would read as a (bad) octal one.
    math(EXPR version "${version}")
    file(READ ${f} sql)
    string(APPEND body "    {${version}, \"${fname}\", R\"parleysql(${sql})parleysql\"},\n")
  endforeach()
  string(APPEND body "  };\n  return kMigrations;\n}\n}  // namespace parley::pg\n")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${sql_files})
  file(CONFIGURE OUTPUT ${out} CONTENT "${body}")
  target_sources(${target} PRIVATE ${out})
endfunction()

# parley_use_tcmalloc(TARGET): the binary allocates with tcmalloc (see the
# top-level CMakeLists.txt). --no-as-needed keeps the library even though no
# symbol is referenced by name (it replaces malloc by being linked) on
# toolchains that default to --as-needed.
function(parley_use_tcmalloc target)
  target_link_options(${target} PRIVATE LINKER:--no-as-needed)
  target_link_libraries(${target} PRIVATE PkgConfig::TCMALLOC)
endfunction()
