/**
 * The column names `dtsen init` knows for each canonical field: those of the shipped mappings (pipelines/sources/)
 * and their usual variants in DTKS, Regsosek and P3KE exports. Compared with case, spaces and punctuation ignored.
 */
import type { CanonicalField } from '../../schemas/canonical.ts';

export const KNOWN_COLUMNS: Record<CanonicalField, readonly string[]> = {
  source_record_id: ['IDDTKS', 'ID_DTKS', 'id_art', 'id_p3ke', 'ID_INDIVIDU', 'ID_ANGGOTA', 'ID_ANGGOTA_KELUARGA', 'ID_PERSON', 'ID_PENDUDUK', 'ID_RECORD', 'RECORD_ID', 'ID'],
  family_id: ['id_keluarga', 'id_keluarga_p3ke', 'ID_KELUARGA_DTKS', 'ID_RUMAH_TANGGA', 'ID_RUTA', 'id_ruta', 'ID_FAMILY', 'FAMILY_ID', 'ID_KEL'],
  no_kk: ['NO_KK', 'NOKK', 'NOMOR_KK', 'NO_KARTU_KELUARGA', 'NOMOR_KARTU_KELUARGA', 'KK'],
  nik: ['NIK', 'NO_NIK', 'NOMOR_NIK', 'NIK_KTP', 'NOMOR_INDUK_KEPENDUDUKAN'],
  name: ['NAMA', 'nama_lengkap', 'NAMA_ART', 'NAMA_ANGGOTA', 'NAMA_PENDUDUK', 'NAMA_PENERIMA', 'NAME', 'FULL_NAME'],
  birth_place: ['TEMPAT_LAHIR', 'TMP_LAHIR', 'TEMPAT_LHR', 'PLACE_OF_BIRTH'],
  birth_date: ['TGL_LAHIR', 'tanggal_lahir', 'TANGGAL_LHR', 'TGL_LHR', 'TGLLAHIR', 'BIRTH_DATE', 'DATE_OF_BIRTH', 'DOB'],
  age: ['umur', 'USIA', 'UMUR_TAHUN', 'AGE'],
  sex: ['JENIS_KELAMIN', 'JNS_KELAMIN', 'JENKEL', 'JK', 'KELAMIN', 'SEX', 'GENDER'],
  relation: ['HUB_KRT', 'hub_kk', 'HUBUNGAN_KRT', 'HUBUNGAN_KK', 'HUB_KELUARGA', 'HUBUNGAN_KELUARGA', 'HUBUNGAN', 'SHDK', 'STATUS_HUBUNGAN'],
  mother_name: ['NAMA_IBU_KANDUNG', 'NAMA_IBU', 'IBU_KANDUNG', 'MOTHER_NAME'],
  address: ['ALAMAT', 'ALAMAT_LENGKAP', 'ALAMAT_DOMISILI', 'ALAMAT_KTP', 'ADDRESS'],
  rt: ['RT', 'NO_RT', 'NOMOR_RT'],
  rw: ['RW', 'NO_RW', 'NOMOR_RW'],
  village_code: ['KODE_WILAYAH', 'kode_desa', 'kode_kemendagri', 'KODE_DESA_KELURAHAN', 'KODE_KELURAHAN', 'KD_DESA', 'KODE_DAGRI', 'KODE_WILAYAH_DESA', 'VILLAGE_CODE'],
  province_name: ['PROVINSI', 'NAMA_PROVINSI', 'PROPINSI', 'NAMA_PROP', 'PROVINCE'],
  regency_name: ['KABUPATEN_KOTA', 'NAMA_KABUPATEN', 'KABUPATEN', 'KAB_KOTA', 'KABKOT', 'NAMA_KAB_KOTA', 'KOTA', 'REGENCY'],
  district_name: ['KECAMATAN', 'NAMA_KECAMATAN', 'KEC', 'DISTRICT'],
  village_name: ['DESA_KELURAHAN', 'NAMA_DESA', 'DESA', 'KELURAHAN', 'NAMA_KELURAHAN', 'DESA_KEL', 'VILLAGE'],
  decile: ['desil', 'desil_kesejahteraan', 'DESIL_NASIONAL', 'PERINGKAT_DESIL', 'DECILE'],
  prog_pkh: ['PKH', 'PENERIMA_PKH', 'FLAG_PKH', 'STATUS_PKH'],
  prog_bpnt: ['BPNT', 'SEMBAKO', 'PENERIMA_BPNT', 'FLAG_BPNT', 'STATUS_BPNT'],
  prog_pbi_jkn: ['PBI_JKN', 'PBI', 'PBI_JK', 'PENERIMA_PBI', 'FLAG_PBI', 'KIS'],
  programme_list: ['penerima_bansos', 'BANSOS', 'PROGRAM', 'PROGRAM_BANSOS', 'JENIS_BANSOS', 'DAFTAR_BANSOS'],
  dukcapil_status: ['STATUS_DUKCAPIL', 'PADAN_DUKCAPIL', 'STATUS_PADAN', 'KET_DUKCAPIL', 'DUKCAPIL'],
  updated_at: ['TGL_UPDATE', 'TANGGAL_UPDATE', 'TGL_PEMBARUAN', 'UPDATED_AT', 'LAST_UPDATE'],
};

/**
 * The fields a starting mapping cannot do without: the record id (the mapping's one required key) and what the
 * linkage compares a person on. `dtsen init` fails (exit 2) while one of them has no column.
 */
export const REQUIRED_FIELDS: readonly CanonicalField[] = ['source_record_id', 'nik', 'name', 'birth_date', 'sex'];
